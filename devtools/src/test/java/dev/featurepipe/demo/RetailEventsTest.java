package dev.featurepipe.demo;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

class RetailEventsTest {
    private final RetailEvents events = new RetailEvents(new ObjectMapper());

    private static RetailRow row(String invoice, String stock, String qty, String price, String customer) {
        return new RetailRow(invoice, stock, "WHITE HANGING HEART T-LIGHT HOLDER", qty, "2010-12-01 08:26:00", price,
                customer, "United Kingdom");
    }

    @Test
    void aPurchaseRowBecomesAPurchaseEvent() {
        ObjectNode e = events.event(row("536365", "85123A", "6", "2.55", "17850.0"), 0);

        assertThat(e.get("event_type").asText()).isEqualTo("purchase");
        assertThat(e.get("event_id").asText()).isEqualTo("536365-1");
        assertThat(e.get("customer_id").asText()).isEqualTo("17850");
        assertThat(e.get("ts").asLong()).isEqualTo(1_291_191_960_000L);
        assertThat(e.get("quantity").asLong()).isEqualTo(6);
        assertThat(e.get("amount").asDouble()).isEqualTo(15.3);
    }

    @Test
    void linesOfOneInvoiceGetTheirOwnIdsEvenForTheSameItem() {
        ObjectNode first = events.event(row("536365", "85123A", "6", "2.55", "17850.0"), 0);
        ObjectNode second = events.event(row("536365", "85123A", "6", "2.55", "17850.0"), 0);

        assertThat(first.get("event_id").asText()).isEqualTo("536365-1");
        assertThat(second.get("event_id").asText()).isEqualTo("536365-2");
    }

    @Test
    void aCancellationKeepsItsNegativeQuantityAndTheShiftMovesTime() {
        ObjectNode e = events.event(row("C536379", "D", "-1", "27.5", "14527.0"), 1000);

        assertThat(e.get("event_type").asText()).isEqualTo("cancellation");
        assertThat(e.get("amount").asDouble()).isEqualTo(-27.5);
        assertThat(e.get("ts").asLong()).isEqualTo(1_291_191_960_000L + 1000);
    }

    @Test
    void aRowWithoutCustomerIsSentWithoutTheKeySoValidationRejectsIt() {
        assertThat(events.event(row("536414", "22139", "56", "0.0", ""), 0).has("customer_id")).isFalse();
    }
}
