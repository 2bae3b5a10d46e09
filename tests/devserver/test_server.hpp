#pragma once
// Starts an in-process dev server on 127.0.0.1 and an ephemeral port for a test; null (with a
// test failure recorded) when it cannot start.
#include <gtest/gtest.h>

#include <memory>

#include "devserver/server.hpp"

namespace devicelogin::devserver::testing {

inline std::unique_ptr<Server> start(ServerOptions options = {}) {
  options.host = "127.0.0.1";
  options.port = 0;
  auto server = Server::start(std::move(options));
  if (!server) {
    ADD_FAILURE() << "start failed: " << server.error().message;
    return nullptr;
  }
  return std::move(*server);
}

}  // namespace devicelogin::devserver::testing
