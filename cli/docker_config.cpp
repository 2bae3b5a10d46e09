#include "docker_config.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "devicelogin/sanitize.hpp"
#include "devicelogin/secret.hpp"

namespace devicelogin::cli {
namespace {

// The user's config as it was written: members in their order, and each number as
// its text, not as a double (nlohmann's own values would turn 12345678901234567890123 into
// 1.2345678901234568e+22 and 0.1000000000000000055511151231257827 into 0.1 on the rewrite). Every
// string is wiped when the tree is freed: "auths" may hold base64 passwords.
struct Node {
  enum class Kind { kNull, kBoolean, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  std::string text;  // a string's value; a number's or boolean's JSON text
  std::vector<std::pair<std::string, Node>> members;  // kObject, in order
  std::vector<Node> items;                            // kArray

  Node() = default;
  Node(Kind k, std::string t) : kind(k), text(std::move(t)) {}
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  Node(Node&&) noexcept = default;
  Node& operator=(Node&&) noexcept = default;
  ~Node() {
    wipe_string(text);
    for (auto& member : members) wipe_string(member.first);
  }

  Node* find(std::string_view key) {
    for (auto& [name, value] : members) {
      if (name == key) return &value;
    }
    return nullptr;
  }
};

// Builds a Node tree from nlohmann's SAX events. A float arrives with its text; an integer that
// fits 64 bits is written back from its value, which is exact. (The one spelling not kept: an
// integer -0 comes back as 0.)
class TreeBuilder {
 public:
  using json = nlohmann::json;
  Node root;

  bool null() { return add(Node(Node::Kind::kNull, "null")); }
  bool boolean(bool value) { return add(Node(Node::Kind::kBoolean, value ? "true" : "false")); }
  bool number_integer(json::number_integer_t value) { return add(Node(Node::Kind::kNumber, std::to_string(value))); }
  bool number_unsigned(json::number_unsigned_t value) { return add(Node(Node::Kind::kNumber, std::to_string(value))); }
  bool number_float(json::number_float_t /*value*/, const json::string_t& text) { return add(Node(Node::Kind::kNumber, text)); }
  bool string(json::string_t& value) {
    Node node(Node::Kind::kString, std::move(value));
    wipe_string(value);
    return add(std::move(node));
  }
  bool binary(json::binary_t& /*value*/) { return false; }  // never from JSON text
  bool start_object(std::size_t /*size*/) { return open(Node::Kind::kObject); }
  bool key(json::string_t& name) {
    Node* object = stack_.back();
    // A repeated name: the later value replaces the earlier one where that one was (as nlohmann's
    // ordered_json and docker's own decoder keep one value per name).
    for (std::size_t i = 0; i < object->members.size(); ++i) {
      if (object->members[i].first == name) {
        object->members[i].second = Node();
        pending_member_ = i;
        wipe_string(name);
        return true;
      }
    }
    object->members.emplace_back(std::move(name), Node());
    wipe_string(name);
    pending_member_ = object->members.size() - 1;
    return true;
  }
  bool end_object() { return close(); }
  bool start_array(std::size_t /*size*/) { return open(Node::Kind::kArray); }
  bool end_array() { return close(); }
  bool parse_error(std::size_t /*position*/, const std::string& /*token*/, const nlohmann::detail::exception& /*error*/) {
    return false;
  }

 private:
  std::vector<Node*> stack_;
  std::size_t pending_member_ = 0;

  // Where the next value goes; its address stays valid while it is being filled (a container's
  // vector only grows for a later sibling, after this one is closed).
  Node* slot() {
    if (stack_.empty()) return &root;
    Node* parent = stack_.back();
    if (parent->kind == Node::Kind::kArray) {
      parent->items.emplace_back();
      return &parent->items.back();
    }
    return &parent->members[pending_member_].second;
  }
  bool add(Node node) {
    *slot() = std::move(node);
    return true;
  }
  bool open(Node::Kind kind) {
    Node* node = slot();
    node->kind = kind;
    stack_.push_back(node);
    return true;
  }
  bool close() {
    stack_.pop_back();
    return true;
  }
};

// Parses `text` into `root` (an empty object for blank text); an error message otherwise.
std::optional<std::string> parse_config(std::string_view text, Node& root) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    root = Node(Node::Kind::kObject, "");
    return std::nullopt;
  }
  // (no parse error text: it could quote a password)
  if (!json_nesting_within(text)) return "nests arrays or objects more than " + std::to_string(kMaxJsonNesting) + " levels deep";
  TreeBuilder builder;
  const bool parsed = nlohmann::json::sax_parse(text, &builder, nlohmann::json::input_format_t::json, true, false);
  root = std::move(builder.root);
  if (!parsed || root.kind != Node::Kind::kObject) return "is not a JSON object";
  if (Node* helpers = root.find("credHelpers"); helpers != nullptr && helpers->kind != Node::Kind::kObject) {
    return "has a \"credHelpers\" that is not an object";
  }
  return std::nullopt;
}

void append_string(std::string& out, const std::string& value) {
  // nlohmann's escaping (the strings came through its UTF-8-checking parser)
  out += nlohmann::json(value).dump();
}

// Docker's own layout (json.MarshalIndent with a tab). Recursive on purpose: the text was refused
// unless it nests at most kMaxJsonNesting levels.
void render_into(std::string& out, const Node& node, std::size_t depth) {  // NOLINT(misc-no-recursion): bounded by kMaxJsonNesting
  const auto newline = [&](std::size_t level) {
    out += '\n';
    out.append(level, '\t');
  };
  switch (node.kind) {
    case Node::Kind::kString: append_string(out, node.text); return;
    case Node::Kind::kNull:
    case Node::Kind::kBoolean:
    case Node::Kind::kNumber: out += node.text; return;
    case Node::Kind::kArray:
      if (node.items.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (std::size_t i = 0; i < node.items.size(); ++i) {
        if (i > 0) out += ',';
        newline(depth + 1);
        render_into(out, node.items[i], depth + 1);
      }
      newline(depth);
      out += ']';
      return;
    case Node::Kind::kObject:
      if (node.members.empty()) {
        out += "{}";
        return;
      }
      out += '{';
      for (std::size_t i = 0; i < node.members.size(); ++i) {
        if (i > 0) out += ',';
        newline(depth + 1);
        append_string(out, node.members[i].first);
        out += ": ";
        render_into(out, node.members[i].second, depth + 1);
      }
      newline(depth);
      out += '}';
      return;
  }
}

std::string render(const Node& root) {
  std::string out;
  render_into(out, root, 0);
  return out + "\n";
}

}  // namespace

std::expected<DockerConfigEdit, std::string> add_docker_credential_helpers(std::string_view text,
                                                                           const std::vector<std::string>& keys,
                                                                           std::string_view helper) {
  Node root;
  if (auto problem = parse_config(text, root)) return std::unexpected(*problem);
  bool changed = false;
  Node* helpers = root.find("credHelpers");
  if (helpers == nullptr) {
    root.members.emplace_back("credHelpers", Node(Node::Kind::kObject, ""));
    helpers = &root.members.back().second;
    changed = true;
  }
  for (const std::string& key : keys) {
    Node* entry = helpers->find(key);
    if (entry != nullptr && entry->kind == Node::Kind::kString && entry->text == helper) continue;
    if (entry == nullptr) {
      helpers->members.emplace_back(key, Node(Node::Kind::kString, std::string(helper)));
    } else {
      *entry = Node(Node::Kind::kString, std::string(helper));
    }
    changed = true;
  }
  return DockerConfigEdit{render(root), changed};
}

std::expected<DockerConfigEdit, std::string> remove_docker_credential_helpers(std::string_view text,
                                                                              const std::vector<std::string>& keys,
                                                                              std::string_view helper) {
  Node root;
  if (auto problem = parse_config(text, root)) return std::unexpected(*problem);
  Node* helpers = root.find("credHelpers");
  if (helpers == nullptr) return DockerConfigEdit{std::string(text), false};
  bool changed = false;
  for (const std::string& key : keys) {
    auto& members = helpers->members;
    for (auto it = members.begin(); it != members.end(); ++it) {
      if (it->first == key && it->second.kind == Node::Kind::kString && it->second.text == helper) {
        members.erase(it);
        changed = true;
        break;
      }
    }
  }
  if (!changed) return DockerConfigEdit{std::string(text), false};
  // An object only this helper's entries made is taken out with them.
  if (helpers->members.empty()) {
    for (auto it = root.members.begin(); it != root.members.end(); ++it) {
      if (it->first == "credHelpers") {
        root.members.erase(it);
        break;
      }
    }
  }
  return DockerConfigEdit{render(root), true};
}

}  // namespace devicelogin::cli
