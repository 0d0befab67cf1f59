package dev.durabledeploy.spi;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The text scrubber is the safety net under every message the library builds from third-party text
 * (docs/invariants.md I2). Each corpus line carries one secret; the scrubbed line must not contain
 * it, and must still say what it was about (the part before the secret survives).
 */
@DisplayName("Inputs.redactCredentials masks secrets in every common format")
class RedactionCorpusTest {

  /** {text, secret, context that must survive}. */
  static Stream<Arguments> secrets() {
    return Stream.of(
        // key=value, env-style names
        line("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
        line("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG", "wJalrXUtnFEMI"),
        line("DURABLE_DEPLOY_S3_SECRET_KEY=minio-s3cr3t-123", "minio-s3cr3t-123"),
        line("DURABLE_DEPLOY_PG_PASSWORD=pg-pass-456", "pg-pass-456"),
        line("PGPASSWORD=pgpw-789 psql -h db", "pgpw-789"),
        line("export GITHUB_TOKEN=ghtok-abc123", "ghtok-abc123"),
        line("AWS_SESSION_TOKEN=FwoGZXIvYXdzEJr//////////wEaDK", "FwoGZXIvYXdzEJr"),
        line("client_secret=cs-0a1b2c3d", "cs-0a1b2c3d"),
        line("refresh_token=rt-9f8e7d", "rt-9f8e7d"),
        line("api_key=ak-4455", "ak-4455"),
        line("apiKey=ak-6677", "ak-6677"),
        line("X-Api-Key: xak-8899", "xak-8899"),
        line("password = spaced-pw-1", "spaced-pw-1"),
        line("passwd=pw-unix-2", "pw-unix-2"),
        line("pwd=pw-short-3", "pw-short-3"),
        line("privateKey=pk-material-4", "pk-material-4"),
        // quoted
        line("password=\"quoted pw with spaces\"", "quoted pw with spaces"),
        line("password='single quoted pw'", "single quoted pw"),
        line("secret: \"yaml-secret-5\"", "yaml-secret-5"),
        line("token: plain-yaml-token-6", "plain-yaml-token-6"),
        // JSON
        line("{\"password\":\"json-pw-7\"}", "json-pw-7"),
        line("{\"user\": \"bob\", \"password\": \"json pw 8\", \"x\": 1}", "json pw 8"),
        line("{\"accessToken\":\"json-at-9\",\"expires\":3600}", "json-at-9"),
        line("{\"password\":\"esc\\\"aped-10\"}", "aped-10"),
        line("{'api_key': 'py-dict-11'}", "py-dict-11"),
        // headers
        line("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "eyJhbGci"),
        line("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA"),
        line("authorization: token ghp_16C7e42F292c6912E7710c838347Ae178B4a", "ghp_16C7e42F"),
        line("Proxy-Authorization: Basic cHJveHk6cHc=", "cHJveHk6cHc"),
        line(
            "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830, Signature=5d672d79c15b13",
            "5d672d79c15b13"),
        line("Cookie: session=sess-12345; theme=dark", "sess-12345"),
        line("sent header Bearer abc123.def456-ghi to the API", "abc123.def456-ghi"),
        // URLs
        line("https://u:p@ss@git.example.com/acme/web.git", "p@ss"),
        line("https://u:p@ss@git.example.com/acme/web.git", "ss@git"),
        line("cloning https://deployer:tok-13@github.com/a/b failed", "tok-13"),
        line("https://ghp_bareTokenAsUser14@github.com/a/b", "ghp_bareTokenAsUser14"),
        line("redis://:valkey-pw-15@cache:6379/0", "valkey-pw-15"),
        line("rediss://default:valkey-pw-16@cache:6380", "valkey-pw-16"),
        line("jdbc:postgresql://app:jdbc-pw-17@db:5432/app", "jdbc-pw-17"),
        line("jdbc:postgresql://db:5432/app?user=app&password=jdbc-pw-18&ssl=true", "jdbc-pw-18"),
        line(
            "https://b.s3.amazonaws.com/k?X-Amz-Credential=AKID%2F2024&X-Amz-Signature=f00dfeed19",
            "f00dfeed19"),
        line("https://b.s3.amazonaws.com/k?X-Amz-Security-Token=IQoJb3JpZ2luX2VjE20", "IQoJb3Jp"),
        line("https://example.com/cb?access_token=at-21&state=x", "at-21"),
        line("https://sig.example.com/f?sig=sig-22&se=2030", "sig-22"),
        line("connecting to app:userinfo-pw-23@db.internal:5432", "userinfo-pw-23"),
        // command lines and shapes of well-known tokens
        line("git clone --password hunter2-24 repo", "hunter2-24"),
        line("tool --token=cli-tok-25 --verbose", "cli-tok-25"),
        line("push rejected for ghp_16C7e42F292c6912E7710c838347Ae178B4a", "ghp_16C7e42F292c"),
        line("using github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "github_pat_11ABC"),
        line("gitlab glpat-xxxxxxxxxxxxxxxxxxxx27 revoked", "glpat-xxxxxxxxxx"),
        line("slack xoxb-1234567890-abcdefghij28 posted", "xoxb-1234567890"),
        line("jwt eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.sig29nature in cookie", "eyJhbGciOiJSUzI1"),
        line(
            "key: -----BEGIN RSA PRIVATE KEY-----\nMIIEpQIBAAKCAQEA30\n-----END RSA PRIVATE KEY-----",
            "MIIEpQIBAAKCAQEA30"),
        // connection URLs of other stores, cloud and tool configuration
        line("mongodb+srv://u:mongo-pw-1@cluster0.x.mongodb.net/db", "mongo-pw-1"),
        line("amqp://guest:rabbitpw-2@mq:5672", "rabbitpw-2"),
        line("jdbc:sqlserver://db:1433;databaseName=app;user=sa;password=MsSql-3", "MsSql-3"),
        line("jdbc:mysql://db/app?user=app&password=my-4&useSSL=true", "my-4"),
        line(
            "{\"type\": \"service_account\", \"private_key_id\": \"0123abcd5\","
                + " \"private_key\": \"-----BEGIN PRIVATE KEY-----\\nMIIEvGcp5\\n-----END PRIVATE"
                + " KEY-----\\n\"}",
            "MIIEvGcp5"),
        line("{\"private_key_id\": \"0123abcd6\"}", "0123abcd6"),
        line(
            "https://acct.blob.core.windows.net/c/b?sv=2020-08-04&se=2030&sp=r&sig=AbCSig7%3D",
            "AbCSig7"),
        line(
            "https://storage.googleapis.com/b/o?X-Goog-Credential=c&X-Goog-Signature=abcdef08",
            "abcdef08"),
        line("X-Vault-Token: hvs.vault09", "hvs.vault09"),
        line("spring.datasource.password=sp-10", "sp-10"),
        line("-Djavax.net.ssl.keyStorePassword=ks-11", "ks-11"),
        line("//registry.npmjs.org/:_authToken=npm-at-12", "npm-at-12"),
        line("SENTRY_DSN=https://abc1234dsn13@o1.ingest.sentry.io/1", "abc1234dsn13"),
        line("DATABASE_URL=postgres://app:pgurl-14@db:5432/app", "pgurl-14"),
        line("{\"auths\":{\"ghcr.io\":{\"auth\":\"dXNlcjpkb2NrZXIxNQ==\"}}}", "dXNlcjpk"),
        // Azure connection strings: the storage account key and the Service Bus key
        line(
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=AzKey0123456789abcdef==;"
                + "EndpointSuffix=core.windows.net",
            "AzKey0123456789"),
        line(
            "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;"
                + "SharedAccessKey=SbKey0123456789=",
            "SbKey0123456789"),
        line("AZURE_STORAGE_KEY=stkey-abc123", "stkey-abc123"),
        // Oracle's thin JDBC URL and sqlplus carry user/password before the @
        line("jdbc:oracle:thin:scott/tiger77@//db:1521/svc", "tiger77"),
        line("jdbc:oracle:thin:scott/tiger78@db:1521:orcl", "tiger78"),
        line("sqlplus -s scott/tiger79@orcl @script.sql", "tiger79"),
        // key blocks: PGP, cut off before the END line, or a tail that starts inside the key
        line(
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF0abcPgp\n-----END PGP PRIVATE KEY BLOCK-----",
            "lQOYBF0abcPgp"),
        line("loaded key -----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIabcTruncated\n", "MHcCAQEEIabc"),
        line(
            "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUTailOnly\nQyNTUxOQAAACBTailOnly2\n"
                + "-----END OPENSSH PRIVATE KEY-----\nbuild failed",
            "TailOnly"),
        line("{\"key\": \"-----BEGIN PRIVATE KEY-----\\nMIIEvJsonCut\\nAbCdJsonCut2\\n", "JsonCut"),
        // URL user info whose password holds '/', '#' or '?' (AWS secret keys hold '/')
        line("s3://AKIAX:wJalr/K7MDENGslash@bucket/key", "K7MDENGslash"),
        line("redis://:pa/ssSlash@cache:6379", "ssSlash"),
        line("redis://:pa#ssHash@cache:6379", "ssHash"),
        line("redis://:pa?ssQuery@cache:6379", "ssQuery"),
        // command lines and configuration files
        line("curl -u admin:curlpw123 https://x.example", "curlpw123"),
        line("curl --user admin:curlpw124 https://x.example", "curlpw124"),
        line("./deploy.sh -u ci:ScriptPw-125 prod", "ScriptPw-125"),
        line("docker pull app; curl -u admin:AfterDocker-126 x", "AfterDocker-126"),
        line("<server><password>mvn-settings-pw</password></server>", "mvn-settings-pw"),
        line("<add key=\"x\"><clientSecret>xml-cs-1</clientSecret></add>", "xml-cs-1"),
        line("mysql -u root -pmysqlpw1 app", "mysqlpw1"),
        line("docker login -u ci -p DockerPw-Tail-1 registry.example", "DockerPw-Tail-1"),
        line("SSH_PASSPHRASE=pp-0039", "pp-0039"),
        line("passphrase=pp-0038", "pp-0038"),
        line("secretkey=minio-0034", "minio-0034"),
        line("Server=x;User Id=sa;Password=Pass word with space;", "word with space"),
        line("Password=Pass word first;Server=x", "word first"),
        // shapes: a Google API key, an AWS credentials.csv line
        line(
            "GET https://maps.googleapis.com/maps/api/geocode/json?key=AIzaSyD-abcdefghijklmnopqrstuvwxyz012",
            "AIzaSyD-abcdefghij"),
        line("AKIAIOSFODNN7EXAMPLE,wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"));
  }

  private static Arguments line(String text, String secret) {
    return Arguments.of(text, secret);
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @MethodSource("secrets")
  @DisplayName("every secret-bearing line is masked")
  void masks(String text, String secret) {
    String masked = Inputs.redactCredentials(text);
    assertThat(masked).doesNotContain(secret).contains("***");
    // Scrubbing twice changes nothing more.
    assertThat(Inputs.redactCredentials(masked)).isEqualTo(masked);
  }

  @Test
  @DisplayName("the corpus has at least 40 secret-bearing lines")
  void corpusSize() {
    assertThat(secrets().count()).isGreaterThanOrEqualTo(40);
  }

  @Test
  @DisplayName("what a line was about survives: field names, hosts, header names")
  void contextSurvives() {
    assertThat(Inputs.redactCredentials("DURABLE_DEPLOY_S3_SECRET_KEY=abc123"))
        .isEqualTo("DURABLE_DEPLOY_S3_SECRET_KEY=***");
    assertThat(Inputs.redactCredentials("Authorization: Bearer abc.def.ghi"))
        .isEqualTo("Authorization: Bearer ***");
    assertThat(Inputs.redactCredentials("{\"password\":\"x1\",\"user\":\"bob\"}"))
        .isEqualTo("{\"password\":\"***\",\"user\":\"bob\"}");
    assertThat(Inputs.redactCredentials("https://u:p@ss@host.example/r.git"))
        .isEqualTo("https://***@host.example/r.git");
    assertThat(Inputs.redactCredentials("password=\"a b\" next"))
        .isEqualTo("password=\"***\" next");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "clone of acme/web failed (TRANSPORT): cannot reach git.example.com",
        "the password must be at least 12 characters",
        "token bucket refilled: 10 permits",
        "tokenizer=standard max_tokens=100",
        "secretary=bob passenger=3",
        "https://git.example.com/acme/web.git",
        "git@github.com:acme/web.git",
        "ssh://git@github.com/acme/web.git",
        "user bob@example.com signed in",
        "basic configuration loaded",
        "deploy 20240101-120000-abcdef0 finalized at 12:30",
        "key=site-a/deploys/x/index.html size=120",
        "Authorization header missing",
        "redis://cache:6379/0",
        "jdbc:postgresql://db:5432/app?ssl=true",
        "the session ended after 30 s",
        "{\"site\":\"acme\",\"alias\":\"production\"}",
        // look like the formats above, hold no secret
        "https://git.example.com:8443/acme/web.git@v1",
        "http://[::1]:8080/r.git@x",
        "https://example.com/profile?mail=bob@example.com",
        "https://host/a:b/c@d",
        "SharedAccessKeyName=RootManageSharedAccessKey",
        "aws_access_key_id=AKIAIOSFODNN7EXAMPLE",
        "jdbc:oracle:thin:@//db:1521/svc",
        "npm install @scope/pkg@1.2.3",
        "docker run -u 1000:1000 image",
        "ps -u root",
        "mkdir -p /tmp/build && ssh -p 22 host",
        "mysql -h db -P 3306 app",
        "<user>bob</user><keyName>main</keyName>",
        "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----",
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYI\n-----END PUBLIC KEY-----",
        "Server=db;Database=app;Trusted_Connection=True;",
        "storage_key=site-a/deploys/x/index.html",
        "the passphrase is checked on the next login"
      })
  @DisplayName("text without a secret passes unchanged")
  void nonSecretsUnchanged(String text) {
    assertThat(Inputs.redactCredentials(text)).isEqualTo(text);
  }

  @Test
  @DisplayName("null stays null")
  void nullStaysNull() {
    assertThat(Inputs.redactCredentials(null)).isNull();
  }
}
