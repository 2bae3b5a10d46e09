#pragma once
// Overwrites the strings inside a parsed JSON value: nlohmann keeps its own copies of every
// string, which would otherwise be freed with tokens still in them.
#include "devicelogin/secret.hpp"

namespace devicelogin {

// Works on any nlohmann::basic_json (a template so that core does not depend on nlohmann).
template <class Json>
void wipe_json(Json& value) {
  if (value.is_string()) {
    wipe_string(value.template get_ref<typename Json::string_t&>());
  } else if (value.is_structured()) {
    for (auto& child : value) wipe_json(child);
  }
}

// Wipes a JSON value when it goes out of scope.
template <class Json>
struct JsonWiper {
  Json& value;
  ~JsonWiper() { wipe_json(value); }
};

}  // namespace devicelogin
