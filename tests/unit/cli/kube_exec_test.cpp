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
  auto beta = parse_kube_exec_info(R"({"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","spec":{}})");
  ASSERT_TRUE(beta) << beta.error();
  EXPECT_EQ(beta->api_version, "client.authentication.k8s.io/v1beta1");
  EXPECT_FALSE(beta->interactive);
  // Not set at all (a client older than the variable, or a person running the plugin): v1.
  auto unset = parse_kube_exec_info(nullptr);
  ASSERT_TRUE(unset);
  EXPECT_EQ(unset->api_version, "client.authentication.k8s.io/v1");
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
