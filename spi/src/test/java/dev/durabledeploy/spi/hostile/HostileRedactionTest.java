package dev.durabledeploy.spi.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.durabledeploy.spi.Inputs;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Hostile corpus for {@link Inputs#redactCredentials}: common, real-world secret formats the
 * library's own corpus does not hold. Each line carries one secret that must not survive.
 */
@DisplayName("hostile: redactCredentials on secret formats beyond the library's corpus")
class HostileRedactionTest {

  static Stream<Arguments> held() {
    return Stream.of(
        Arguments.of("mongodb+srv://u:mongo-pw-1@cluster0.x.mongodb.net/db", "mongo-pw-1"),
        Arguments.of("amqp://guest:rabbitpw-2@mq:5672", "rabbitpw-2"),
        Arguments.of(
            "jdbc:sqlserver://db:1433;databaseName=app;user=sa;password=MsSql-3", "MsSql-3"),
        Arguments.of("jdbc:mysql://db/app?user=app&password=my-4&useSSL=true", "my-4"),
        Arguments.of(
            "{\"type\": \"service_account\", \"private_key_id\": \"0123abcd5\","
                + " \"private_key\": \"-----BEGIN PRIVATE KEY-----\\nMIIEvGcp5\\n-----END PRIVATE"
                + " KEY-----\\n\"}",
            "MIIEvGcp5"),
        Arguments.of("{\"private_key_id\": \"0123abcd6\"}", "0123abcd6"),
        Arguments.of(
            "https://acct.blob.core.windows.net/c/b?sv=2020-08-04&se=2030&sp=r&sig=AbCSig7%3D",
            "AbCSig7"),
        Arguments.of(
            "https://storage.googleapis.com/b/o?X-Goog-Credential=c&X-Goog-Signature=abcdef08",
            "abcdef08"),
        Arguments.of("X-Vault-Token: hvs.vault09", "hvs.vault09"),
        Arguments.of("spring.datasource.password=sp-10", "sp-10"),
        Arguments.of("-Djavax.net.ssl.keyStorePassword=ks-11", "ks-11"),
        Arguments.of("//registry.npmjs.org/:_authToken=npm-at-12", "npm-at-12"),
        Arguments.of("SENTRY_DSN=https://abc1234dsn13@o1.ingest.sentry.io/1", "abc1234dsn13"),
        Arguments.of("DATABASE_URL=postgres://app:pgurl-14@db:5432/app", "pgurl-14"),
        Arguments.of("{\"auths\":{\"ghcr.io\":{\"auth\":\"dXNlcjpkb2NrZXIxNQ==\"}}}", "dXNlcjpk"));
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @MethodSource("held")
  @DisplayName("formats that are masked (what held)")
  void held(String text, String secret) {
    assertThat(Inputs.redactCredentials(text)).doesNotContain(secret);
  }

  static Stream<Arguments> leaks() {
    return Stream.of(
        // Azure connection strings: the storage account key and the Service Bus key.
        Arguments.of(
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=AzKey0123456789abcdef==;"
                + "EndpointSuffix=core.windows.net",
            "AzKey0123456789"),
        Arguments.of(
            "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;"
                + "SharedAccessKey=SbKey0123456789=",
            "SbKey0123456789"),
        Arguments.of("AZURE_STORAGE_KEY=stkey-abc123", "stkey-abc123"),
        // Oracle's thin JDBC URL carries user/password before the @.
        Arguments.of("jdbc:oracle:thin:scott/tiger77@//db:1521/svc", "tiger77"),
        Arguments.of("jdbc:oracle:thin:scott/tiger78@db:1521:orcl", "tiger78"),
        // PEM: a PGP block, and a key cut off before its END line (a truncated log line/tail).
        Arguments.of(
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF0abcPgp\n-----END PGP PRIVATE KEY BLOCK-----",
            "lQOYBF0abcPgp"),
        Arguments.of(
            "loaded key -----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIabcTruncated\n", "MHcCAQEEIabc"),
        // URL user info whose password holds '/', '#' or '?' (AWS secret keys hold '/').
        Arguments.of("s3://AKIAX:wJalr/K7MDENGslash@bucket/key", "K7MDENGslash"),
        Arguments.of("redis://:pa/ssSlash@cache:6379", "ssSlash"),
        Arguments.of("redis://:pa#ssHash@cache:6379", "ssHash"),
        Arguments.of("redis://:pa?ssQuery@cache:6379", "ssQuery"),
        // Command lines and config files.
        Arguments.of("curl -u admin:curlpw123 https://x.example", "curlpw123"),
        Arguments.of("<server><password>mvn-settings-pw</password></server>", "mvn-settings-pw"),
        Arguments.of("mysql -u root -pmysqlpw1 app", "mysqlpw1"),
        Arguments.of("SSH_PASSPHRASE=pp-0039", "pp-0039"),
        Arguments.of("passphrase=pp-0038", "pp-0038"),
        Arguments.of("secretkey=minio-0034", "minio-0034"),
        Arguments.of("Server=x;User Id=sa;Password=Pass word with space;", "word with space"),
        // Shapes: a Google API key, an AWS credentials.csv line.
        Arguments.of(
            "GET https://maps.googleapis.com/maps/api/geocode/json?key=AIzaSyD-abcdefghijklmnopqrstuvwxyz012",
            "AIzaSyD-abcdefghij"),
        Arguments.of(
            "AKIAIOSFODNN7EXAMPLE,wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"));
  }

  // BREAKS: common secret formats (Azure AccountKey, Oracle JDBC, PGP/truncated PEM, '/' in a URL password, curl -u, XML <password>, passphrase...) pass redactCredentials unmasked
  @ParameterizedTest(name = "[{index}] {0}")
  @MethodSource("leaks")
  @DisplayName("formats that leak today")
  void leaks(String text, String secret) {
    assertThat(Inputs.redactCredentials(text)).doesNotContain(secret);
  }
}
