// kubectl's exec credential plugin protocol: what KUBERNETES_EXEC_INFO may hold (both apiVersions,
// and every way it can be broken) and the exact bytes of the ExecCredential the plugin prints.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "kube_exec.hpp"

namespace devicelogin::cli {
namespace {

TEST(KubeExec, ReadsBothApiVersionsAndTheInteractiveFlag) {
  auto v1 = parse_kube_exec_info(
      R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":true,)"
      R"("cluster":{"server":"https://127.0.0.1:6443","certificate-authority-data":"LS0t"}}})");
  ASSERT_TRUE(v1) << v1.error();
  EXPECT_EQ(v1->api_version, "client.authentication.k8s.io/v1");
  EXPECT_TRUE(v1->interactive);
  ASSERT_TRUE(v1->cluster);
  EXPECT_EQ(*v1->cluster, (KubeCluster{"https://127.0.0.1:6443", "LS0t", "", false}));
  auto beta = parse_kube_exec_info(R"({"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","spec":{}})");
  ASSERT_TRUE(beta) << beta.error();
  EXPECT_EQ(beta->api_version, "client.authentication.k8s.io/v1beta1");
  EXPECT_FALSE(beta->interactive);
  EXPECT_FALSE(beta->cluster);  // no provideClusterInfo
  // Not set at all (a client older than the variable, or a person running the plugin): v1.
  auto unset = parse_kube_exec_info(nullptr);
  ASSERT_TRUE(unset);
  EXPECT_EQ(unset->api_version, "client.authentication.k8s.io/v1");
  EXPECT_FALSE(unset->cluster);
}

TEST(KubeExec, ReadsSpecClusterAsKubectlWritesIt) {
  // kubectl 1.32's spec.cluster for a cluster with every field set (proxy-url, config and
  // disable-compression are not part of the rule, and are ignored).
  auto info = parse_kube_exec_info(
      R"({"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"cluster":{)"
      R"("server":"https://Kube.Example:6443/","tls-server-name":"api.kube","insecure-skip-tls-verify":true,)"
      R"("certificate-authority-data":"LS0tLS1CRUdJTi8rPQ==","proxy-url":"http://proxy:3128","disable-compression":true,)"
      R"("config":{"any":["thing"]}},"interactive":false}})");
  ASSERT_TRUE(info) << info.error();
  ASSERT_TRUE(info->cluster);
  EXPECT_EQ(*info->cluster, (KubeCluster{"https://Kube.Example:6443/", "LS0tLS1CRUdJTi8rPQ==", "api.kube", true}));
  // null members are absent members; a null cluster is no cluster.
  auto nulls = parse_kube_exec_info(
      R"({"apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":{"server":"https://a","certificate-authority-data":null,)"
      R"("tls-server-name":null,"insecure-skip-tls-verify":null}}})");
  ASSERT_TRUE(nulls) << nulls.error();
  EXPECT_EQ(*nulls->cluster, (KubeCluster{"https://a", "", "", false}));
  auto no_cluster = parse_kube_exec_info(R"({"apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":null}})");
  ASSERT_TRUE(no_cluster) << no_cluster.error();
  EXPECT_FALSE(no_cluster->cluster);
}

TEST(KubeExec, NormalisesServersButKeepsHostPortSchemeAndPath) {
  const std::pair<std::string, std::string> same[] = {
      {"https://127.0.0.1:6443", "https://127.0.0.1:6443"},
      {"HTTPS://Kube.Example.COM", "https://kube.example.com:443"},
      {"https://kube.example.com:443/", "https://kube.example.com:443"},
      {"https://kube.example.com:0443", "https://kube.example.com:443"},
      {"http://localhost", "http://localhost:80"},
      {"https://[::1]:6443", "https://[::1]:6443"},
      {"https://[FE80::1]", "https://[fe80::1]:443"},
      {"https://rancher.example/k8s/clusters/c-1/", "https://rancher.example:443/k8s/clusters/c-1"},
      {"https://rancher.example/K8s", "https://rancher.example:443/K8s"},  // the path keeps its case
  };
  for (const auto& [server, normal] : same) EXPECT_EQ(normalize_kube_server(server), normal) << server;
  const std::string refused[] = {
      "", "127.0.0.1:6443", "//kube.example", "ftp://kube.example", "https://", "https://:443", "https://kube.example:",
      "https://kube.example:0", "https://kube.example:65536", "https://kube.example:6443x", "https://user:pw@kube.example",
      "https://kube.example?x=1", "https://kube.example/#f", "https://kube example", "https://kube.example\n",
      "https://kube..example", "https://[::1", "https://[]", "https://[::1%25eth0]", "https://[::1]x", "https://k\xc3\xbc" "be.example",
      "https://kube.example\\\\@evil", "unix:///run/k8s.sock",
  };
  for (const auto& server : refused) EXPECT_FALSE(normalize_kube_server(server)) << server;
}

TEST(KubeExec, GivesTheTokenOnlyToTheRecordedDestination) {
  const KubeCluster recorded{"https://kube.example:6443", "Q0E=", "", false};
  auto check = [&](const std::optional<KubeCluster>& presented, const std::optional<KubeCluster>& record = std::nullopt) {
    return check_kube_destination(presented, record ? record : std::optional(recorded));
  };
  EXPECT_TRUE(check(recorded));
  EXPECT_TRUE(check(KubeCluster{"HTTPS://KUBE.example:6443/", "Q0E=", "", false}));
  // Recorded insecure allows a verifying kubectl too.
  EXPECT_TRUE(check(recorded, KubeCluster{"https://kube.example:6443", "Q0E=", "", true}));
  const std::pair<std::optional<KubeCluster>, std::string> refused[] = {
      {std::nullopt, "names no spec.cluster"},
      {KubeCluster{"https://other.example:6443", "Q0E=", "", false}, "about to send the token to https://other.example:6443, not to https://kube.example:6443"},
      {KubeCluster{"https://kube.example:6444", "Q0E=", "", false}, "not to https://kube.example:6443"},
      {KubeCluster{"http://kube.example:6443", "Q0E=", "", false}, "not to https://kube.example:6443"},
      {KubeCluster{"https://kube.example", "Q0E=", "", false}, "not to https://kube.example:6443"},
      {KubeCluster{"https://kube.example:6443/other", "Q0E=", "", false}, "not to https://kube.example:6443"},
      {KubeCluster{"https://kube.example.:6443", "Q0E=", "", false}, "not to"},
      {KubeCluster{"https://evil\x1b[2J:6443", "Q0E=", "", false}, "to https://evil[2J:6443, not"},  // shown sanitised
      {KubeCluster{"https://kube.example:6443", "", "", false}, "another certificate authority"},
      {KubeCluster{"https://kube.example:6443", "RVZJTA==", "", false}, "another certificate authority"},
      {KubeCluster{"https://kube.example:6443", "Q0E=", "evil.example", false}, "another TLS server name (\"evil.example\")"},
      {KubeCluster{"https://kube.example:6443", "Q0E=", "", true}, "skip TLS verification"},
  };
  for (const auto& [presented, expected] : refused) {
    auto result = check(presented);
    ASSERT_FALSE(result) << (presented ? presented->server : "none");
    EXPECT_NE(result.error().find(expected), std::string::npos) << result.error();
    EXPECT_EQ(result.error().find('\n'), std::string::npos) << result.error();
    EXPECT_NE(result.error().find("token"), std::string::npos) << result.error();
  }
  // Nothing recorded (an exec entry from before the rule, or written by hand): nothing given.
  auto none = check_kube_destination(recorded, std::nullopt);
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().find("records no cluster server"), std::string::npos) << none.error();
  auto empty = check_kube_destination(recorded, KubeCluster{});
  ASSERT_FALSE(empty);
  auto bad = check_kube_destination(recorded, KubeCluster{"kube.example:6443", "Q0E=", "", false});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("is not an http(s) URL"), std::string::npos) << bad.error();
}

TEST(KubeExec, RefusesBrokenExecInfoWithOneLineNamingTheProblem) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "not a JSON object"},
      {"{", "not a JSON object"},
      {"[]", "not a JSON object"},
      {"\"client.authentication.k8s.io/v1\"", "not a JSON object"},
      {R"({"kind":"ExecCredential"})", "names no apiVersion"},
      {R"({"apiVersion":7})", "names no apiVersion"},
      {R"({"apiVersion":"client.authentication.k8s.io/v1alpha1"})", "apiVersion \"client.authentication.k8s.io/v1alpha1\""},
      {R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"Pod"})", "not an ExecCredential"},
      {R"({"apiVersion":"client.authentication.k8s.io/v1","spec":[]})", "spec is not an object"},
      {R"({"apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":"yes"}})", "spec.interactive is not a boolean"},
      {R"({"apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":"https://a"}})", "spec.cluster is not an object"},
      {R"({"apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":{}}})", "spec.cluster names no server"},
      {R"({"apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":{"server":""}}})", "spec.cluster names no server"},
      {R"({"apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":{"server":7}}})", "spec.cluster.server is not a string"},
      {R"({"apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":{"server":"https://a","certificate-authority-data":["x"]}}})",
       "spec.cluster.certificate-authority-data is not a string"},
      {R"({"apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":{"server":"https://a","certificate-authority-data":"-----BEGIN"}}})",
       "spec.cluster.certificate-authority-data is not base64"},
      {R"({"apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":{"server":"https://a","tls-server-name":1}}})",
       "spec.cluster.tls-server-name is not a string"},
      {R"({"apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":{"server":"https://a","insecure-skip-tls-verify":"true"}}})",
       "spec.cluster.insecure-skip-tls-verify is not a boolean"},
      {R"({"apiVersion":"x\n\u001b[2J"})", "apiVersion \"x??[2J\""},  // control characters shown as '?'
      // Deep enough to exhaust the stack in a copy or dump: refused before it is parsed.
      {R"({"apiVersion":"client.authentication.k8s.io/v1","spec":{"x":)" + std::string(200000, '[') +
           std::string(200000, ']') + "}}",
       "nests arrays or objects more than 64 levels deep"},
  };
  for (const auto& [value, expected] : cases) {
    auto parsed = parse_kube_exec_info(value.c_str());
    ASSERT_FALSE(parsed) << value;
    EXPECT_NE(parsed.error().find(expected), std::string::npos) << value << " -> " << parsed.error();
    EXPECT_EQ(parsed.error().find('\n'), std::string::npos) << parsed.error();
    EXPECT_EQ(parsed.error().rfind("KUBERNETES_EXEC_INFO", 0), 0U) << parsed.error();
  }
  std::string huge = R"({"apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":{"config":")";
  huge += std::string(kKubeMaxExecInfo, 'a') + "\"}}}";
  auto parsed = parse_kube_exec_info(huge.c_str());
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().find("larger than 1024 KiB"), std::string::npos) << parsed.error();
}

TEST(KubeExec, ExecCredentialBytes) {
  const std::string v1 = "client.authentication.k8s.io/v1";
  // 2026-12-06T08:05:00Z
  const long long when = 1796544300;
  EXPECT_EQ(rfc3339_utc(when), "2026-12-06T08:05:00Z");
  EXPECT_EQ(rfc3339_utc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_exec_credential(v1, "tok.en-_~", when).reveal(),
            R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",)"
            R"("status":{"expirationTimestamp":"2026-12-06T08:05:00Z","token":"tok.en-_~"}})"
            "\n");
  EXPECT_EQ(format_exec_credential("client.authentication.k8s.io/v1beta1", "t", std::nullopt).reveal(),
            R"({"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"t"}})"
            "\n");
  // An expiry RFC 3339 cannot write (a year past 9999, or before 1970) is left out, not garbled.
  const std::string no_expiry = R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"t"}})"
                                "\n";
  EXPECT_EQ(format_exec_credential(v1, "t", kKubeLatestTimestamp + 1).reveal(), no_expiry);
  EXPECT_EQ(format_exec_credential(v1, "t", -1).reveal(), no_expiry);
  EXPECT_NE(format_exec_credential(v1, "t", kKubeLatestTimestamp).reveal().find("\"9999-12-31T23:59:59Z\""), std::string::npos);
  // A token with characters JSON must escape still reads back as itself.
  const std::string odd = "a\"b\\c\x01<&>";
  const auto out = format_exec_credential(v1, odd, when);
  const auto doc = nlohmann::json::parse(out.reveal());
  EXPECT_EQ(doc["status"]["token"], odd);
  EXPECT_EQ(doc["kind"], "ExecCredential");
}

}  // namespace
}  // namespace devicelogin::cli
