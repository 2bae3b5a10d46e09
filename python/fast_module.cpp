// devicelogin._fast: the Python package's token hot path. Session.token() asks it first;
// it answers only with a stored token that can be handed out as it is (store/fresh_tokens.hpp:
// local store, bound to the profile, valid for min_ttl seconds) and otherwise returns None, and
// the package goes through the C ABI (libdevicelogin.so, which loads libcurl and OpenSSL), which
// refreshes or raises. So there is one behaviour, and the fast case costs a file or keyring read
// instead of loading ctypes and the whole library.
//
// CPython's stable ABI (Py_LIMITED_API 3.11: one _fast.abi3.so for Debian's 3.11 and any newer
// interpreter). The C++ runtime is linked statically and only PyInit__fast is exported
// (python/fast_module.map), so loading it costs no libstdc++ and binds nothing of the process's.
#define Py_LIMITED_API 0x030B0000
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <sys/stat.h>

#include <cerrno>

#include <string>
#include <utility>

#include "devicelogin/policy.hpp"
#include "devicelogin/profile.hpp"
#include "store/audit.hpp"
#include "store/fresh_tokens.hpp"

namespace {

constexpr const char* kSourceName = "devicelogin._fast.source";

// A Session's source, and the access token it last handed out (which the caller holds as a str
// anyway). Keeping that one buffer alive until the next answer replaces it keeps its locked page
// locked: otherwise every call frees all its secret buffers, and the next one mlock()s and
// munlock()s the same pages again (core/secret.cpp locks pages while any secret lives on them),
// which made a call in a loop cost about a quarter more.
struct Source {
  devicelogin::store::LocalTokenSource source;
  devicelogin::Secret handed_out;
};

void free_source(PyObject* capsule) {
  delete static_cast<Source*>(PyCapsule_GetPointer(capsule, kSourceName));
}

// open(profile: str, profile_directory: str | None) -> source | None: the profile and its local
// store, read once (a Session reads its profile once too); None when the profile is not saved or
// its store is not a local one, and then the package uses the C ABI for this Session.
PyObject* fast_open(PyObject* /*module*/, PyObject* args) {
  const char* profile = nullptr;
  const char* directory = nullptr;
  if (PyArg_ParseTuple(args, "sz", &profile, &directory) == 0) return nullptr;
  // A machine policy is the library's to enforce (session and idle limits, stores, issuers): with
  // one (or anything at its path but "no such file"), every token comes through the C ABI.
  if (struct stat info{}; ::stat(devicelogin::machine_policy_path().c_str(), &info) == 0 || (errno != ENOENT && errno != ENOTDIR)) {
    Py_RETURN_NONE;
  }
  Source* source = nullptr;
  try {
    auto opened = devicelogin::store::open_local_token_source(profile, directory != nullptr ? directory : "");
    if (opened) source = new Source{std::move(*opened), {}};
  } catch (...) {  // std::bad_alloc and the like: the C ABI answers (or raises) instead
    source = nullptr;
  }
  if (source == nullptr) Py_RETURN_NONE;
  PyObject* capsule = PyCapsule_New(source, kSourceName, free_source);
  if (capsule == nullptr) delete source;
  return capsule;
}

// token(source, min_ttl: int) -> str | None: the stored access token when it stays valid for
// min_ttl seconds and is bound to the profile; else None (the C ABI then refreshes, or raises).
PyObject* fast_token(PyObject* /*module*/, PyObject* args) {
  PyObject* capsule = nullptr;
  long long min_ttl = 0;
  if (PyArg_ParseTuple(args, "OL", &capsule, &min_ttl) == 0) return nullptr;
  auto* source = static_cast<Source*>(PyCapsule_GetPointer(capsule, kSourceName));
  if (source == nullptr) return nullptr;  // not a source: TypeError/ValueError set by CPython
  std::optional<devicelogin::TokenSet> tokens;
  try {
    tokens = devicelogin::store::fresh_local_tokens(source->source, min_ttl);
  } catch (...) {
    tokens.reset();
  }
  if (!tokens) Py_RETURN_NONE;
  // A journal copy of the audit record needs libsystemd, which this module does not link: the C
  // ABI hands the token out (and records it) then.
  const devicelogin::store::AuditSettings audit = devicelogin::store::audit_settings();
  if (audit.enabled && audit.journal && !devicelogin::store::audit_journal_available()) Py_RETURN_NONE;
  try {
    devicelogin::store::AuditEvent record;
    record.event = "handout";
    record.profile = source->source.profile_name;
    record.consumer = "python";
    record.token_id = devicelogin::store::audit_token_id(tokens->access_token);
    devicelogin::store::audit_record(record);
  } catch (...) {  // std::bad_alloc: the record is lost, the token is still handed out
  }
  // A token is VSCHAR (RFC 6749 A.12, checked when it was stored): ASCII, so this cannot fail
  // but for memory; then the C ABI answers. The set's own copy is wiped when it goes.
  const std::string_view value = tokens->access_token.reveal();
  PyObject* text = PyUnicode_FromStringAndSize(value.data(), static_cast<Py_ssize_t>(value.size()));
  if (text == nullptr) {
    PyErr_Clear();
    Py_RETURN_NONE;
  }
  source->handed_out = std::move(tokens->access_token);  // the previous one is wiped and freed now
  return text;
}

// valid_profile_name(name: str) -> bool: the library's own rule, so that a lazily opened Session
// refuses a bad name when it is made, as the C ABI does.
PyObject* fast_valid_profile_name(PyObject* /*module*/, PyObject* args) {
  const char* name = nullptr;
  Py_ssize_t size = 0;
  if (PyArg_ParseTuple(args, "s#", &name, &size) == 0) return nullptr;
  return PyBool_FromLong(devicelogin::valid_profile_name(std::string_view(name, static_cast<std::size_t>(size))) ? 1 : 0);
}

PyMethodDef methods[] = {
    {"valid_profile_name", fast_valid_profile_name, METH_VARARGS, "valid_profile_name(name) -> bool"},
    {"open", fast_open, METH_VARARGS, "open(profile, profile_directory) -> source | None"},
    {"token", fast_token, METH_VARARGS,
     "token(source, min_ttl) -> str | None: the stored access token when it is valid for min_ttl seconds, "
     "else None (then use the C ABI)."},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "devicelogin._fast", "The token hot path of the devicelogin package.", -1, methods,
    nullptr, nullptr, nullptr, nullptr,
};

}  // namespace

PyMODINIT_FUNC PyInit__fast() {  // NOLINT(readability-identifier-naming): CPython's name
  return PyModule_Create(&module);
}
