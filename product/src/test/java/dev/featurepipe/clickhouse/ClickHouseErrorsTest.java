package dev.featurepipe.clickhouse;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ClickHouseErrorsTest {
    @Test
    void anInsertsAnswerIsPrintedWithoutTheValuesOfTheRowClickHouseCouldNotRead() {
        String answer = "Code: 27, e.displayText() = DB::Exception: Cannot parse input: expected \\t before: "
                + "'card=4111 1111 1111 1111, it\\'s mine': (at row 3)\n"
                + "Row 3:\nColumn 0,   name: event_id, type: String, parsed text: \"e-secret-payload\"\n";

        String printed = ClickHouseErrors.withoutValues(answer);

        assertThat(printed).startsWith("Code: 27, e.displayText() = DB::Exception: Cannot parse input")
                .contains("'***'").doesNotContain("4111").doesNotContain("mine").doesNotContain("secret-payload");
        assertThat(ClickHouseErrors.withoutValues("Code: 60, Table x doesn't exist."))
                .as("an apostrophe alone is no quote").isEqualTo("Code: 60, Table x doesn't exist.");
    }
}
