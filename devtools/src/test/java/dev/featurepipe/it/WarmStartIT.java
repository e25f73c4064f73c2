package dev.featurepipe.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.mongodb.client.MongoClient;
import com.mongodb.client.MongoClients;
import dev.featurepipe.app.Pipeline;
import dev.featurepipe.app.Role;
import dev.featurepipe.config.Config;
import java.time.Clock;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Map;
import org.bson.Document;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/** /readyz waits for the read paths to have run, so that the first request after it is answered in its budgets. */
@ExtendWith(TestServices.class)
@Timeout(60)
class WarmStartIT {
    @Test
    void theFirstRequestAfterReadyIsServedWithinTheDefaultBudgets() {
        // the default deadline and budgets, not the generous ones of the other tests
        Config config = TestServices.config("src/test/resources/registry/it.yaml", Map.of(
                Config.SERVE_DEADLINE, Config.SERVE_DEADLINE.defaultValue(),
                Config.SERVE_ONLINE_BUDGET, Config.SERVE_ONLINE_BUDGET.defaultValue(),
                Config.SERVE_PROFILE_BUDGET, Config.SERVE_PROFILE_BUDGET.defaultValue()));
        try (MongoClient mongo = MongoClients.create(TestServices.MONGO)) {
            mongo.getDatabase(config.get(Config.MONGO_DATABASE)).getCollection("user")
                    .insertOne(new Document("_id", "u1").append("country", "NO"));
        }
        // serving alone: nothing else has used the connections or the code of the read path before
        try (Pipeline pipeline = Pipeline.start(config, EnumSet.of(Role.SERVE), Clock.systemUTC())) {
            Api api = new Api(pipeline.httpPort());
            await().atMost(Duration.ofSeconds(30)).until(() -> api.get("/readyz").status() == 200);
            assertThat(api.get("/readyz").body().get("warm").asBoolean()).isTrue();

            Api.Reply served = api.get("/v1/features/user/u1");
            assertThat(served.status()).isEqualTo(200);
            served.body().get("status").fields().forEachRemaining(s ->
                    assertThat(s.getValue().asText()).as(s.getKey()).isIn("ok", "missing"));
            assertThat(served.body().get("features").get("country").asText()).isEqualTo("NO");
        }
    }
}
