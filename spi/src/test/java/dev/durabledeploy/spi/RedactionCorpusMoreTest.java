package dev.durabledeploy.spi;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A second corpus, written by a hostile review after the first one was fixed: the secret formats of
 * cloud providers, SaaS APIs, package registries and databases, each embedded the ways it shows up
 * in log lines and exception messages (bare, as {@code key=}, in JSON, YAML, an environment line, a
 * header, a URL, a command line, quoted, cut off). All values are fake, of the right shape.
 */
@DisplayName("Inputs.redactCredentials masks the secrets of a second, unseen corpus")
class RedactionCorpusMoreTest {

  private static final String JWT =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpM";

  /** {text, a part of the secret (at least 4 characters) that must not survive}. */
  static Stream<Arguments> secrets() {
    return Stream.of(
        // AWS
        line("AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
        line("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "K7MDENG"),
        line("{\"SecretAccessKey\": \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"}", "K7MDENG"),
        line("{\"SessionToken\": \"IQoJb3JpZ2luX2VjEXAMPLEsessionTOKEN\"}", "IQoJb3Jp"),
        line("export AWS_SESSION_TOKEN='IQoJb3JpZ2luX2VjEXAMPLE+sess/tok=='", "IQoJb3Jp"),
        line(
            "GET https://bkt.s3.us-east-1.amazonaws.com/o?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                + "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20260101%2Fus-east-1%2Fs3%2Faws4_request"
                + "&X-Amz-Date=20260101T000000Z&X-Amz-Expires=900"
                + "&X-Amz-Security-Token=IQoJb3JpZ2luX2VjPresigned"
                + "&X-Amz-SignedHeaders=host"
                + "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
            "aeeed9bbccd4d02ee5c0"),
        line(
            "https://bkt.s3.amazonaws.com/o?X-Amz-Security-Token=IQoJb3JpZ2luPresigned2&x=1",
            "IQoJb3JpZ2luPresigned2"),
        line(
            "aws configure set aws_secret_access_key wJalrXUtnFEMIcliSecretEXAMPLEKEY01",
            "wJalrXUtnFEMIcli"),
        // GCP
        line(
            "eyJ0eXBlIjoic2VydmljZV9hY2NvdW50IiwicHJpdmF0ZV9rZXkiOiItLS0tLUJFR0lOIFBSSVZBVEUgS0VZLS0tLS1cbk1JSUV2Z0lCQURBTkJna3Foa2lHOXcwQkFRRUZBQVNDQktnd2dnU2tBZ0VBQW9JQkFRQ1xuLS0tLS1FTkQgUFJJVkFURSBLRVktLS0tLSJ9",
            "eyJ0eXBlIjoic2VydmljZV9hY2NvdW50IiwicHJpdmF0ZV9rZXkiOiItLS0tLUJFR0lO"),
        line(
            "GOOGLE_CREDENTIALS="
                + b64(
                    "{\"type\":\"service_account\",\"private_key\":\"-----BEGIN"
                        + " PRIVATE KEY-----\\nMIIEvgGcpBase64Body\\n-----END PRIVATE KEY-----\\n\"}"),
            b64("{\"type\":\"service_account\",\"private_key\":\"-----BEGIN").substring(0, 20)),
        line(
            "\"private_key\": \"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
            "MIIEvQIBADANBgkq"),
        line("API key AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW not valid", "AIzaSyA1b2C3d4E5"),
        line(
            "https://www.googleapis.com/x?key=AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW",
            "AIzaSyA1b2C3"),
        line("ya29.a0AfH6SMBx3EXAMPLEoauthAccessTokenValue_1234567890abcdef", "a0AfH6SMBx3EXAMPLE"),
        line(
            "\"refresh_token\": \"1//0gEXAMPLErefreshTokenValue-abcdefghijk\"", "0gEXAMPLErefresh"),
        // Azure
        line(
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;EndpointSuffix=core.windows.net",
            "Eby8vdM02xNOcqFl"),
        line(
            "BlobEndpoint=https://acct.blob.core.windows.net/;SharedAccessSignature=sv=2021-06-08&ss=b&srt=sco&sp=rwdlac&se=2030-01-01T00:00:00Z&sig=AzSasSig0123456789abc%3D",
            "AzSasSig0123456789"),
        line(
            "upload to https://acct.blob.core.windows.net/c/f.zip?sp=racwdl&st=2026-01-01&se=2026-01-02&spr=https&sv=2022-11-02&sr=c&sig=Q2xhc3NpY1NBU3NpZ25hdHVyZQ%3D%3D failed: 403",
            "Q2xhc3NpY1NBU3"),
        line("AZURE_CLIENT_SECRET=Xy8Q~abcDEFghiJKLmnoPQRstuVWXyz0123456789", "Xy8Q~abcDEF"),
        line(
            "az login --service-principal -u app-id -p Xy8Q~azCliSecret0123456789 --tenant t",
            "azCliSecret"),
        // GitHub
        line("gho_16C7e42F292c6912E7710c838347Ae178B4a rejected", "gho_16C7e42F"),
        line("token ghu_16C7e42F292c6912E7710c838347Ae178B4a", "ghu_16C7e42F"),
        line("GITHUB_TOKEN: ghs_16C7e42F292c6912E7710c838347Ae178B4a", "ghs_16C7e42F"),
        line(
            "refresh ghr_1B4a2e77838347a7E420ce178F2E7c6912E169246c34E1ccbF66C46812d16D5B1A9Dc86A1498",
            "ghr_1B4a2e77"),
        line(
            "github_pat_11AAAAAAA0abcdefghijkl_mnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012345678",
            "github_pat_11AAAAAAA0"),
        line(
            "https://x-access-token:ghs_16C7e42F292c6912E7710c838347Ae178B4a@github.com/o/r.git",
            "ghs_16C7e"),
        line("https://oauth2:glpat-Ab1Cd2Ef3Gh4Ij5Kl6Mn@gitlab.com/g/p.git", "glpat-Ab1Cd2"),
        line("https://ci-user:Z9y8x7w6v5u4@github.com/o/r", "Z9y8x7w6v5u4"),
        line(
            "git push https://ghp_16C7e42F292c6912E7710c838347Ae178B4a@github.com/o/r",
            "ghp_16C7e42F"),
        // GitLab
        line("PRIVATE-TOKEN: glpat-Ab1Cd2Ef3Gh4Ij5Kl6Mn", "glpat-Ab1Cd2"),
        line("deploy token gldt-Ab1Cd2Ef3Gh4Ij5Kl6Mn7O", "gldt-Ab1Cd2"),
        line("runner registered with glrt-Ab1Cd2Ef3Gh4Ij5Kl6Mn7O", "glrt-Ab1Cd2"),
        line("CI_JOB_TOKEN=glcbt-64_Ab1Cd2Ef3Gh4Ij5Kl6Mn7O", "Ab1Cd2Ef3Gh4"),
        // Bitbucket
        line("https://jdoe:ATBBa1b2c3d4e5f6g7h8i9j0@bitbucket.org/team/repo.git", "ATBBa1b2c3"),
        line(
            "bitbucket app password ATBB3g6xSfEXAMPLEappPasswordValue0123ABCD rejected",
            "ATBB3g6xSfEXAMPLE"),
        // Slack
        line(
            "xoxp-1234567890-1234567890123-1234567890123-abcdef0123456789abcdef0123456789",
            "xoxp-12345678"),
        line("SLACK_APP_TOKEN=xapp-1-A0123456789-1234567890123-abcdef0123456789", "xapp-1-A0123"),
        line("xapp-1-A0123456789-1234567890123-abcdef0123456789abcdef bare", "xapp-1-A0123"),
        line(
            "POST https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX failed",
            "XXXXXXXXXXXXXXXXXXXXXXXX"),
        line(
            "SLACK_WEBHOOK_URL=https://hooks.slack.com/services/T0ABC/B0DEF/abcDEF123ghiJKL456mno",
            "abcDEF123ghi"),
        // Discord
        line(
            "https://discord.com/api/webhooks/123456789012345678/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcdefghijklmnopqrstuvwx",
            "AbCdEfGhIjKlMnOp"),
        line(
            "https://discordapp.com/api/webhooks/123456789012345678/ZyXwVuTsRqPoNmLkJiHgFeDcBa9876543210",
            "ZyXwVuTsRqPoNm"),
        line(
            "Authorization: Bot MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.AbCdEfGhIjKlMnOpQrStUvWxYz01234",
            "MTIzNDU2Nzg5"),
        line(
            "discord bot MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.AbCdEfGhIjKlMnOpQrStUvWxYz01234 logged in",
            "MTIzNDU2Nzg5MDEy"),
        // Stripe
        line("stripe error for sk_live_51HABCDefghIJKLmnopQRStuvWXyz0123456789", "sk_live_51HABC"),
        line("STRIPE_KEY=sk_test_4eC39HqLyjWDarjtT1zdp7dc", "4eC39HqLyjWD"),
        line("rk_live_51HABCDefghIJKLmnopQRStuvWXyz0123456789 restricted", "rk_live_51HABC"),
        line("webhook signing secret whsec_abcdefghijklmnopqrstuvwxyz012345", "whsec_abcdefgh"),
        line(
            "curl https://api.stripe.com/v1/charges -u sk_live_51HABCDefghIJKLmnopQRStuv:",
            "sk_live_51HABC"),
        // Twilio
        line(
            "twilio SK0123456789abcdef0123456789abcdef:t0ps3cr3tApiSecretValue000000000",
            "t0ps3cr3tApiSecret"),
        line("TWILIO_AUTH_TOKEN=0123456789abcdef0123456789abcdef", "0123456789abcdef01"),
        line(
            "curl -u AC0123456789abcdef0123456789abcdef:fedcba9876543210fedcba9876543210 https://api.twilio.com",
            "fedcba98765432"),
        line(
            "https://AC0123456789abcdef0123456789abcdef:fedcba9876543210fedcba9876543210@api.twilio.com/x",
            "fedcba98765432"),
        // SendGrid, Mailgun
        line(
            "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",
            "ngeVfQFYQlKU0u"),
        line(
            "sendgrid key 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 rejected",
            "TwL2iGABf9DH"),
        line("mailgun key-3ax6xnjp29jd6fds4gc373sgvjxteol0 invalid", "3ax6xnjp29jd6"),
        line(
            "curl -s --user 'api:key-3ax6xnjp29jd6fds4gc373sgvjxteol1' https://api.mailgun.net",
            "3ax6xnjp29jd6"),
        line(
            "MAILGUN_API_KEY=0123456789abcdef0123456789abcdef-0123abcd-4567ef01",
            "0123456789abcdef01"),
        // package registries
        line("npm ERR! token npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 expired", "npm_AbCdEfGhIj"),
        line(
            "//registry.npmjs.org/:_authToken=npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
            "AbCdEfGhIjKl"),
        line("//npm.pkg.github.com/:_auth=dXNlcjpucG1hdXRoMTIz", "dXNlcjpucG1h"),
        line(
            "twine upload -u __token__ -p pypi-AgEIcHlwaS5vcmcCJGFiY2RlZmdoLTEyMzQtNTY3OC05MGFi",
            "pypi-AgEIcHlwaS5v"),
        line(
            "pypi-AgEIcHlwaS5vcmcCJGFiY2RlZmdoLTEyMzQtNTY3OC05MGFiY2RlZg bare",
            "pypi-AgEIcHlwaS5v"),
        line("TWINE_PASSWORD=pypi-AgEIcHlwaS5vcmcCJGFiY2RlZmdo", "AgEIcHlwaS5v"),
        line(
            "docker login -u ci --password dckr_pat_AbCdEfGhIjKlMnOpQrStUvWxYz0",
            "dckr_pat_AbCdEf"),
        line(
            "echo dckr_pat_AbCdEfGhIjKlMnOpQrStUvWxYz0 | docker login --password-stdin",
            "dckr_pat_AbCdEf"),
        line(
            "{\n  \"auths\": {\n    \"https://index.docker.io/v1/\": {\n      \"auth\": \"Y2k6ZGNrcl9wYXRfc2VjcmV0\"\n    }\n  }\n}",
            "Y2k6ZGNrcl9w"),
        line(
            "gem push: GEM_HOST_API_KEY=rubygems_0123456789abcdef0123456789abcdef0123456789abcdef",
            "rubygems_0123456789"),
        line("NUGET_API_KEY=oy2abcdefghijklmnopqrstuvwxyz0123456789abcdefgh", "oy2abcdefghij"),
        // Kubernetes
        line(
            "users:\n- name: ci\n  user:\n    token: eyJhbGciOiJSUzI1NiIsImtpZCI6Ik.k8sPayload.k8sSig",
            "eyJhbGciOiJSUzI1NiIs"),
        line(
            "    client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlFcFFJQkFBS0NBUUVB",
            "LS0tLS1CRUdJTiBSU0E"),
        line("kubectl --token=k8sTokenValue0123456789 get pods", "k8sTokenValue"),
        line(
            "kubectl get secret app -o yaml\ndata:\n  password: cGFzc3dvcmQxMjM=\n  username: YWRtaW4=",
            "cGFzc3dvcmQx"),
        // HashiCorp
        line(
            "Vault said: permission denied for hvs.CAESIJ1abcdefghijklmnopqrstuvwxyz0123456789",
            "hvs.CAESIJ1abc"),
        line("VAULT_TOKEN=hvb.AAAAAQJabcdefghijklmnopqrstuvwxyz0123", "hvb.AAAAAQJab"),
        line(
            "credentials \"app.terraform.io\" { token = \"AbCdEfGhIjKlMn.atlasv1.OpQrStUvWxYz0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH\" }",
            "atlasv1.OpQrStUv"),
        line(
            "TF token AbCdEfGhIjKlMn.atlasv1.OpQrStUvWxYz0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH bare",
            "atlasv1.OpQrStUv"),
        // observability
        line("DD_API_KEY=0123456789abcdef0123456789abcdef", "0123456789abcdef01"),
        line("DD_APP_KEY=0123456789abcdef0123456789abcdef01234567", "0123456789abcdef01"),
        line("DD-API-KEY: 0123456789abcdef0123456789abcdef", "0123456789abcdef01"),
        line("new relic NRAK-ABCDEFGHIJKLMNOPQRSTUVWXYZ0 rejected", "NRAK-ABCDEFGHIJ"),
        line(
            "NEW_RELIC_LICENSE_KEY=0123456789abcdef0123456789abcdef0123NRAL", "0123456789abcdef01"),
        line(
            "Sentry DSN https://0123456789abcdef0123456789abcdef@o0.ingest.sentry.io/42",
            "0123456789abcdef01"),
        line(
            "dsn: \"https://abcdef0123456789abcdef0123456789@o123.ingest.us.sentry.io/1\"",
            "abcdef0123456789ab"),
        // AI APIs
        line(
            "openai: Incorrect API key provided: sk-AbCdEfGhIjKlMnOpQrStT3BlbkFJAbCdEfGhIjKlMnOpQrSt",
            "sk-AbCdEfGhIjKl"),
        line(
            "OPENAI_API_KEY=sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-AbCdEfGh",
            "AbCdEfGhIjKlMn"),
        line(
            "using key sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-AbCdEfGh", "sk-proj-AbCdEfGh"),
        line(
            "x-api-key: sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-AbCdEfGhIjKlMnOp_AA",
            "sk-ant-api03-AbCd"),
        line(
            "anthropic rejected sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-AbCdEfGhIjKlMnOp_AA",
            "sk-ant-api03-AbCd"),
        line(
            "huggingface-cli login --token hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567",
            "hf_AbCdEfGhIjK"),
        line("loaded hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567 from cache", "hf_AbCdEfGhIjK"),
        // Shopify, Heroku
        line("X-Shopify-Access-Token: shpat_0123456789abcdef0123456789abcdef", "shpat_0123456789"),
        line("shpat_0123456789abcdef0123456789abcdef bare", "shpat_0123456789"),
        line("shared secret shpss_0123456789abcdef0123456789abcdef", "shpss_0123456789"),
        line("HEROKU_API_KEY=01234567-89ab-cdef-0123-456789abcdef", "01234567-89ab"),
        line(
            "https://:01234567-89ab-cdef-0123-456789abcdef@git.heroku.com/app.git",
            "01234567-89ab"),
        // JWT, basic, cookies, OAuth
        line(JWT, "SflKxwRJSMeKKF2QT4fwpM"),
        line("Authorization: Bearer " + JWT, "eyJzdWIiOiIxMjM0"),
        line("\"id_token\":\"" + JWT + "\"", "eyJzdWIiOiIxMjM0"),
        line("authorization: basic YWxhZGRpbjpvcGVuc2VzYW1l", "YWxhZGRpbjpvcGVu"),
        line("Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l\r\nHost: x", "YWxhZGRpbjpvcGVu"),
        line(
            "{\"headers\": {\"Authorization\": \"Basic YWxhZGRpbjpvcGVuc2VzYW1l\"}}",
            "YWxhZGRpbjpvcGVu"),
        line(
            "Set-Cookie: JSESSIONID=ABCDEF0123456789ABCDEF0123456789; Path=/; HttpOnly",
            "ABCDEF0123456789A"),
        line("Cookie: _gh_sess=abcSessCookie123; logged_in=yes", "abcSessCookie123"),
        line("'Cookie': 'sessionid=djangoSess0123456789'", "djangoSess01234"),
        line(
            "grant_type=refresh_token&refresh_token=1%2F%2F0gRefreshTok123&client_id=x",
            "0gRefreshTok123"),
        line(
            "POST /token client_id=app&client_secret=GOCSPX-AbCdEfGhIjKlMnOpQrStUvWxYz01",
            "GOCSPX-AbCdEf"),
        line(
            "{\"access_token\":\"ya29.a0AfAccessTok\",\"token_type\":\"Bearer\",\"expires_in\":3599}",
            "a0AfAccessTok"),
        line(
            "https://app.example.com/callback#access_token=fragTok0123456789&token_type=bearer",
            "fragTok0123456"),
        line("https://app.example.com/cb#id_token=" + JWT, "SflKxwRJSMeKKF"),
        line("GOCSPX-AbCdEfGhIjKlMnOpQrStUvWxYz01 bare client secret", "GOCSPX-AbCdEf"),
        line(
            "redirect to https://x.example/cb?code=4%2F0AfOauthCode123&state=s", "0AfOauthCode123"),
        line("GET /callback#state=s&code=SplxlOBeZQQYbYS6WxSbIA HTTP/1.1", "SplxlOBeZQQYbYS6"),
        // private keys
        line(
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACAopenSSHbody\n-----END OPENSSH PRIVATE KEY-----",
            "QyNTUxOQAAACAopen"),
        line(
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0123456789ABCDEF0123456789ABCDEF\n\nencRSAbody0123456789abcdef\n-----END RSA PRIVATE KEY-----",
            "encRSAbody0123"),
        line(
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqEncPkcs8\n-----END ENCRYPTED PRIVATE KEY-----",
            "EncPkcs8"),
        line(
            "-----BEGIN EC PRIVATE KEY-----\r\nMHcCAQEEIIecCRLFbody\r\n-----END EC PRIVATE KEY-----\r\n",
            "MHcCAQEEIIecCRLF"),
        line(
            "-----BEGIN DSA PRIVATE KEY-----\nMIIBuwIBAAKBgQDsaBody\n-----END DSA PRIVATE KEY-----",
            "MIIBuwIBAAKBgQDsa"),
        line(
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\nlQdGBGPgpBodyLine1\n=abcd\n-----END PGP PRIVATE KEY BLOCK-----",
            "lQdGBGPgpBody"),
        line(
            "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: k\nPublic-Lines: 2\nAAAAC3NzaC1lZDI1NTE5\nPrivate-Lines: 1\nAAAAIPuttyPrivateLine0123\nPrivate-MAC: abcdef",
            "AAAAIPuttyPrivate"),
        line(
            "ssh key file begins -----BEGIN OPENSSH PRIVATE KEY----- b3BlbnNzaC1rZXktdjEAAAAACutLine",
            "CutLine"),
        line(
            "SSH_PRIVATE_KEY=\"-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaEnvEsc\\n-----END OPENSSH PRIVATE KEY-----\"",
            "b3BlbnNzaEnvEsc"),
        line(
            "age secret key AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ",
            "AGE-SECRET-KEY-1QQQ"),
        // .netrc, git credentials
        line("machine github.com login octocat password netrcPw0123", "netrcPw0123"),
        line(
            "machine api.heroku.com\n  login me@example.com\n  password 01234567-89ab-cdef-0123-456789abcdef",
            "01234567-89ab"),
        line(
            "protocol=https\nhost=github.com\nusername=x\npassword=gitCredHelperPw01",
            "gitCredHelperPw01"),
        line("~/.git-credentials: https://bob:gitcredfilepw99@example.com", "gitcredfilepw99"),
        // PostgreSQL, MySQL, Redis, Mongo, AMQP, SMTP, LDAP
        line(
            "connection to server failed: host=db port=5432 dbname=app user=app password=libpqPw01 sslmode=require",
            "libpqPw01"),
        line("psql \"host=db dbname=app user=app password='libpq quoted pw'\"", "libpq quoted pw"),
        line("PGPASSWORD='pg quoted' psql -h db", "pg quoted"),
        line("mysqldump -uroot -pDumpPw01 --all-databases", "DumpPw01"),
        line("mysql --password=MyPw02 -u root", "MyPw02"),
        line("mysql -u root --password MyPw03 app", "MyPw03"),
        line("CREATE USER 'app'@'%' IDENTIFIED BY 'IdentPw04';", "IdentPw04"),
        line("ALTER USER app IDENTIFIED WITH mysql_native_password BY 'IdentPw05'", "IdentPw05"),
        line("ALTER ROLE app WITH PASSWORD 'PgRolePw06'", "PgRolePw06"),
        line("CREATE USER app PASSWORD 'PgUserPw07'", "PgUserPw07"),
        line("redis-cli -a RedisCliPw08 ping", "RedisCliPw08"),
        line("127.0.0.1:6379> AUTH RedisAuthPw09", "RedisAuthPw09"),
        line("AUTH default RedisAuthPw10", "RedisAuthPw10"),
        line("requirepass RedisConfPw11", "RedisConfPw11"),
        line("masterauth RedisMasterPw12", "RedisMasterPw12"),
        line("CONFIG SET requirepass \"RedisSetPw13\"", "RedisSetPw13"),
        line(
            "mongodb://admin:MongoPw14@h1:27017,h2:27017/db?replicaSet=rs0&authSource=admin",
            "MongoPw14"),
        line(
            "mongosh \"mongodb+srv://c.x.mongodb.net/db\" --username u --password MongoPw15",
            "MongoPw15"),
        line("amqps://user:AmqpPw16@b-1234.mq.us-east-1.amazonaws.com:5671/vhost", "AmqpPw16"),
        line(
            "smtp://apikey:SG.smtpSendGridKey.abcdefghij@smtp.sendgrid.net:587", "smtpSendGridKey"),
        line("smtps://mailer%40example.com:SmtpPw17@smtp.example.com:465", "SmtpPw17"),
        line("spring.mail.password=SmtpPw18", "SmtpPw18"),
        line("ldap://cn=admin,dc=example,dc=org:LdapPw19@ldap.example.org", "LdapPw19"),
        line("ldapsearch -x -D cn=admin -w LdapPw20 -b dc=x", "LdapPw20"),
        line("jdbc:mysql://app:JdbcMyPw21@db:3306/app", "JdbcMyPw21"),
        line("jdbc:postgresql://db/app?password=JdbcPgPw22", "JdbcPgPw22"),
        line("Data Source=db;Initial Catalog=app;User ID=sa;Pwd=MsPwd23;", "MsPwd23"),
        line("jdbc:sqlserver://db;user=sa;password={Br@ced;Pw24};", "Pw24"),
        line("jdbc:oracle:thin:app/OraPw25@//db:1521/svc", "OraPw25"),
        line("clickhouse-client --password ChPw26 --query 'select 1'", "ChPw26"),
        line("sshpass -p SshPassPw27 ssh user@host", "SshPassPw27"),
        line("htpasswd -b .htpasswd admin HtPw28", "HtPw28"),
        line("openssl pkcs12 -export -passout pass:P12Pw29 -out k.p12", "P12Pw29"),
        line("keytool -importkeystore -srcstorepass KsPw30 -deststorepass KsPw31", "KsPw30"),
        line("keytool -importkeystore -srcstorepass KsPw30 -deststorepass KsPw31", "KsPw31"),
        line("vault login -method=userpass username=bob password=VaultUpPw32", "VaultUpPw32"),
        // CLI flags
        line("tool --api-key ApiKeyFlag33 run", "ApiKeyFlag33"),
        line("tool --client-secret=ClientSecretFlag34", "ClientSecretFlag34"),
        line("tool -password PwSingleDash35", "PwSingleDash35"),
        line("tool --access-key-secret AkSecret36", "AkSecret36"),
        line("helm repo add x https://charts --username u --password HelmPw37", "HelmPw37"),
        line("docker login -p DockerPw38 ghcr.io", "DockerPw38"),
        line("docker login --password=DockerPw39 ghcr.io", "DockerPw39"),
        line("gh auth login --with-token ghp_16C7e42F292c6912E7710c838347Ae178B4a", "ghp_16C7e42F"),
        line("--db-pass DbPassFlag40", "DbPassFlag40"),
        line("-Dsonar.login=sqp_0123456789abcdef0123456789abcdef01234567", "sqp_0123456789"),
        // YAML, env, properties
        line("  password: |\n    yamlBlockPw41\n", "yamlBlockPw41"),
        line("  secretKey: 'yamlQuoted42'", "yamlQuoted42"),
        line("- name: DB_PASSWORD\n  value: k8sEnvValue43", "k8sEnvValue43"),
        line("{\"name\": \"API_TOKEN\", \"value\": \"ecsEnvValue44\"}", "ecsEnvValue44"),
        line("set DB_PASS=winEnvPw45", "winEnvPw45"),
        line("$env:API_KEY = \"psEnvKey46\"", "psEnvKey46"),
        line("ENV SECRET_KEY_BASE=railsSkb47", "railsSkb47"),
        line("DJANGO_SECRET_KEY=django-insecure-abc48", "django-insecure-abc48"),
        line("encryption_key=encKey49value", "encKey49value"),
        line("signing_key: signKey50value", "signKey50value"),
        line("master_key=masterKey51value", "masterKey51value"),
        line("license_key=licKey52value", "licKey52value"),
        line("access_key=accessKey53value", "accessKey53value"),
        line("PASSWORD_HASH=$2b$12$abcdefghijklmnopqrstuu", "abcdefghijklmnopq"),
        line("x-auth-token: xAuthTok54", "xAuthTok54"),
        line("X-Goog-Api-Key: AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW", "AIzaSyA1b2C3"),
        line("Ocp-Apim-Subscription-Key: 0123456789abcdef0123456789abcdef", "0123456789abcdef01"),
        line(
            "X-Auth-Email: a@b.c X-Auth-Key: 0123456789abcdef0123456789abcdef01234",
            "0123456789abcdef01"),
        line("private_key_passphrase=ppKey55", "ppKey55"),
        // truncated
        line("password=\"cut off pw", "cut off pw"),
        line("{\"client_secret\": \"cutOffJson56", "cutOffJson56"),
        line("Authorization: Bearer cutBearer57", "cutBearer57"),
        line("https://user:cutUrlPw58", "cutUrlPw58"),
        line("ghp_16C7e42F292c6912E77", "ghp_16C7e42F292c"),
        // glued, odd separators
        line("token:ghp_16C7e42F292c6912E7710c838347Ae178B4a,", "ghp_16C7e42F"),
        line("[ghp_16C7e42F292c6912E7710c838347Ae178B4a]", "ghp_16C7e42F"),
        line("password\t=\ttabPw59", "tabPw59"),
        line("PASSWORD := walrusPw60", "walrusPw60"),
        line("password => 'rubyHashPw61'", "rubyHashPw61"),
        line("password -> arrowPw62", "arrowPw62"),
        line("\"password\" : \"spacedJson63\"", "spacedJson63"),
        line("password%3DurlEncPw64", "urlEncPw64"),
        line("{\\\"password\\\":\\\"escapedJson66\\\"}", "escapedJson66"),
        line("Password: multi word secret67 here", "multi"),
        // found while probing the fixes
        line("env: [{name: STRIPE_SECRET, value: plainEnv68}]", "plainEnv68"),
        line("ssh -o \"ProxyCommand=sshpass -p PwProxy69 ssh j\" h", "PwProxy69"),
        line("wget --http-password=WgetPw70 http://x", "WgetPw70"),
        line("ftp://anon:FtpPw71@ftp.example.com", "FtpPw71"),
        line("git -c http.extraheader=\"AUTHORIZATION: basic Zm9vOmJhcjcy\" fetch", "Zm9vOmJhcjcy"),
        line(
            "Authorization: Bot " + "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.AbCdEfGhIjKlMnOpQrStUvWxYz73",
            "GhIjKl.AbCd"));
  }

  static String b64(String s) {
    return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
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
    assertThat(Inputs.redactCredentials(masked)).isEqualTo(masked);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "HEAD is now at 4b825dc642cb6eb9a060e54bf8d69288fbee4904 initial",
        "commit e83c5163316f89bfbde7d9ab23ca2e25604af290",
        "deploy 20260115-100000-abc1234 finalized",
        "deploy_id=20260115-100000-abc1234 state=LIVE",
        "request 3f2504e0-4f89-11d3-9a0c-0305e82c3301 took 12ms",
        "trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7",
        "s3://bucket/site-a/deploys/20260115-100000-abc1234/index.html",
        "PUT https://bucket.s3.amazonaws.com/site-a/assets/app.3f2a9c1b.js 200",
        "The quick brown fox jumps over the lazy dog.",
        "HTTP/1.1 401 Unauthorized",
        "HTTP/2 403 Forbidden: the token has expired",
        "java.lang.IllegalStateException: password policy violated",
        "\tat org.postgresql.core.v3.ConnectionFactoryImpl.openConnection(ConnectionFactoryImpl.java:131)",
        "Caused by: java.net.SocketTimeoutException: Read timed out",
        "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ\n-----END CERTIFICATE-----",
        "-----BEGIN CERTIFICATE REQUEST-----\nMIICvDCCAaQCAQAwdzELMAkGA1UEBhMCVVMx\n-----END CERTIFICATE REQUEST-----",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ci@host",
        "integrity sha512-Q3V4dGVyIGNhcmUgYWJvdXQgdGhpcyBzdHJpbmc=",
        "etag=\"d41d8cd98f00b204e9800998ecf8427e\"",
        "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "image ghcr.io/acme/web@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "Content-Type: application/json; charset=utf-8",
        "Cache-Control: max-age=3600",
        "X-Request-Id: 3f2504e0-4f89-11d3-9a0c-0305e82c3301",
        "the token endpoint returned 500",
        "skipping sk-learn tests",
        "task-runner hf_hub_download done",
        "the author field is required",
        "key_name=main key_id=0123abcd",
        "token_type=bearer expires_in=3600",
        "password_changed_at=2026-01-01T00:00:00Z",
        "max_password_length=64",
        "github.com/acme/web/pull/123",
        "ghp_ prefix means a personal access token",
        "KEY=value",
        "sha=4b825dc642cb6eb9a060e54bf8d69288fbee4904",
        "AUTH_MODE=oidc",
        "SMTP AUTH failed for user bob",
        "name: build, value: 3",
        "https://status.example/x?code=404",
        "https://errors.example/x?code=E_TIMEOUT",
      })
  @DisplayName("text without a secret passes unchanged")
  void nonSecretsUnchanged(String text) {
    assertThat(Inputs.redactCredentials(text)).isEqualTo(text);
  }
}
