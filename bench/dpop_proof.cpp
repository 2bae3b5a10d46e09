// What a DPoP proof (RFC 9449 §4.2) costs to make: the budget is 0.2 ms per proof, since every
// token request and every `api` request signs one. Google Benchmark; after its table, one line per
// proof kind gives the time per proof and its ratio to the budget (below 1 is within it).
//   build/bench_dpop_proof [--benchmark_min_time=2]
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <string>

#include "oauth/dpop.hpp"

namespace {

using devicelogin::Secret;
using devicelogin::oauth::DpopAlgorithm;
using devicelogin::oauth::DpopKey;
using devicelogin::oauth::DpopProofRequest;

constexpr double kBudgetMicroseconds = 200.0;

const DpopKey& shared_key(DpopAlgorithm algorithm) {
  static const DpopKey es256 = std::move(*DpopKey::generate(DpopAlgorithm::kEs256));
  static const DpopKey eddsa = std::move(*DpopKey::generate(DpopAlgorithm::kEdDsa));
  return algorithm == DpopAlgorithm::kEdDsa ? eddsa : es256;
}

// A token request: htm, htu, iat, jti.
void token_request_proof(benchmark::State& state, DpopAlgorithm algorithm) {
  const DpopKey& key = shared_key(algorithm);
  const DpopProofRequest request{.method = "POST", .url = "https://as.example.com/oauth2/token", .issued_at = 1'800'000'000,
                                 .access_token = nullptr, .nonce = {}};
  for (auto _ : state) {
    auto proof = devicelogin::oauth::make_dpop_proof(key, request);
    if (!proof) state.SkipWithError(proof.error().message.c_str());
    benchmark::DoNotOptimize(proof);
  }
}

// A resource request: with ath over a JWT-sized access token and a server nonce.
void resource_request_proof(benchmark::State& state, DpopAlgorithm algorithm) {
  const DpopKey& key = shared_key(algorithm);
  const Secret token(std::string(900, 'a'));
  const DpopProofRequest request{.method = "GET", .url = "https://rs.example.com/api/v1/items?page=2", .issued_at = 1'800'000'000,
                                 .access_token = &token, .nonce = "eyJ7S_zG.eyJbYu3.xQmBj-1"};
  for (auto _ : state) {
    auto proof = devicelogin::oauth::make_dpop_proof(key, request);
    if (!proof) state.SkipWithError(proof.error().message.c_str());
    benchmark::DoNotOptimize(proof);
  }
}

BENCHMARK_CAPTURE(token_request_proof, es256, DpopAlgorithm::kEs256)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(resource_request_proof, es256, DpopAlgorithm::kEs256)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(token_request_proof, eddsa, DpopAlgorithm::kEdDsa)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(resource_request_proof, eddsa, DpopAlgorithm::kEdDsa)->Unit(benchmark::kMicrosecond);

// Keeps each benchmark's real time per iteration (in microseconds: every one above uses that unit).
class BudgetReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.run_type == Run::RT_Iteration && !run.error_occurred) times_[run.benchmark_name()] = run.GetAdjustedRealTime();
    }
  }
  [[nodiscard]] const std::map<std::string, double>& times() const { return times_; }

 private:
  std::map<std::string, double> times_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  BudgetReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  bool within = true;
  for (const auto& [name, microseconds] : reporter.times()) {
    const double ratio = microseconds / kBudgetMicroseconds;
    within = within && ratio <= 1.0;
    std::printf("%-40s %8.1f us per proof, budget %.0f us, ratio %.3f%s\n", name.c_str(), microseconds, kBudgetMicroseconds,
                ratio, ratio <= 1.0 ? "" : "  OVER BUDGET");
  }
  return within ? 0 : 3;
}
