package dev.featurepipe.ingest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.featurepipe.http.ApiException;
import dev.featurepipe.http.RefusedException;
import java.io.ByteArrayInputStream;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class EventReaderTest {
    private final ObjectMapper json = new ObjectMapper().enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);
    private final EventReader reader = new EventReader(json, 3);
    private final List<JsonNode> read = new ArrayList<>();

    private int read(String body, boolean ndjson) {
        return reader.read(new ByteArrayInputStream(body.getBytes(StandardCharsets.UTF_8)), ndjson, (i, e) -> read.add(e));
    }

    @Test
    void eventsAreReadAsTheApisMapperReadsThemAndNestedValuesAreKeptEmpty() {
        assertThat(read("[{\"a\": 1.10, \"b\": \"x\", \"c\": 12345678901, \"d\": {\"deep\": [1, 2]}, \"e\": [3]}, 7]", false))
                .isEqualTo(2);

        JsonNode first = read.get(0);
        assertThat(first.get("a").decimalValue()).isEqualTo(new BigDecimal("1.10"));
        assertThat(first.get("b").asText()).isEqualTo("x");
        assertThat(first.get("c").longValue()).isEqualTo(12345678901L);
        assertThat(first.get("d").isObject() && first.get("d").isEmpty()).isTrue();
        assertThat(first.get("e").isArray() && first.get("e").isEmpty()).isTrue();
        assertThat(read.get(1).intValue()).isEqualTo(7);
    }

    @Test
    void theEventAfterTheLimitStopsTheReadWith413() {
        assertThatThrownBy(() -> read("[{}, {}, {}, {}, {}]", false)).isInstanceOf(RefusedException.class)
                .hasMessageContaining("more than 3 events");
        assertThat(read).hasSize(3);
    }

    @Test
    void ndjsonIsOneEventPerLine() {
        assertThat(read("{\"a\": 1}\n\n{\"a\": 2}\r\n", true)).isEqualTo(2);
        assertThatThrownBy(() -> read("{\"a\": 1} {\"a\": 2}\n", true)).hasMessageContaining("line 1 holds more than one");
        assertThatThrownBy(() -> read("{\"a\":\n 1}\n", true)).hasMessageContaining("goes on to line 2");
        assertThatThrownBy(() -> read("{\"a\": 1}\n{\"a\": }\n", true))
                .isInstanceOf(ApiException.class).hasMessageContaining("line 2 is not JSON");
    }

    @Test
    void aBodyIsOneValueAndAnEventHasAtMostAThousandFields() {
        assertThatThrownBy(() -> read("[{}] {}", false)).hasMessageContaining("more than one JSON value");
        StringBuilder wide = new StringBuilder("{");
        for (int i = 0; i <= EventReader.MAX_FIELDS; i++) {
            wide.append(i == 0 ? "" : ",").append("\"f").append(i).append("\": 1");
        }
        assertThatThrownBy(() -> read(wide.append("}").toString(), false)).isInstanceOf(ApiException.class)
                .hasMessageContaining("more than 1000 fields");
    }
}
