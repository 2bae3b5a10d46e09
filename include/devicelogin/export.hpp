#pragma once
// DEVICELOGIN_API: marks what libdevicelogin.so exports. The library is compiled with hidden
// visibility, so a declaration without it stays inside the library; the exported_symbols test
// fails when the library exports anything else.
#if defined(__GNUC__) || defined(__clang__)
#define DEVICELOGIN_API __attribute__((visibility("default")))
#else
#define DEVICELOGIN_API
#endif
