package dev.featurepipe.core;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class SecretsTest {
    @Test
    void passwordsOfUrisAreMaskedAndTheRestKept() {
        assertThat(Secrets.redact("Redis at redis://fp:s3cret@10.0.0.1:6379/0 failed"))
                .isEqualTo("Redis at redis://fp:***@10.0.0.1:6379/0 failed");
        assertThat(Secrets.redact("rediss://:s3cret@h:6380")).isEqualTo("rediss://:***@h:6380");
        assertThat(Secrets.redact("redis://s3cret@h:6379")).isEqualTo("redis://***@h:6379");
        assertThat(Secrets.redact("'mongodb://u:p%40ss@a:1,b:2/?authSource=admin' and http://x:y@ch:8123"))
                .isEqualTo("'mongodb://u:***@a:1,b:2/?authSource=admin' and http://x:***@ch:8123");
        assertThat(Secrets.redact("http://ch:8123/?user=fp&password=s3cret&database=d"))
                .isEqualTo("http://ch:8123/?user=fp&password=***&database=d");
    }

    @Test
    void textWithoutCredentialsIsUnchanged() {
        String text = "ClickHouse at http://127.0.0.1:8123 answered 500 to INSERT; see user@example.com";
        assertThat(Secrets.redact(text)).isEqualTo(text);
        assertThat(Secrets.redact(null)).isNull();
    }
}
