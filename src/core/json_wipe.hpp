#pragma once
// Overwrites the strings inside a parsed JSON value: nlohmann keeps its own copies of every
// string, which would otherwise be freed with tokens still in them.
#include <vector>

#include "devicelogin/secret.hpp"

namespace devicelogin {

// Works on any nlohmann::basic_json (a template so that core does not depend on nlohmann).
// Iterative, so that hostile nesting (`[[[[...]]]]` 100k deep) cannot overflow the stack.
template <class Json>
void wipe_json(Json& value) {
  std::vector<Json*> pending{&value};
  while (!pending.empty()) {
    Json* current = pending.back();
    pending.pop_back();
    if (current->is_string()) {
      wipe_string(current->template get_ref<typename Json::string_t&>());
    } else if (current->is_structured()) {
      for (auto& child : *current) pending.push_back(&child);
    }
  }
}

// Wipes a JSON value when it goes out of scope.
template <class Json>
struct JsonWiper {
  Json& value;
  ~JsonWiper() { wipe_json(value); }
};

}  // namespace devicelogin
