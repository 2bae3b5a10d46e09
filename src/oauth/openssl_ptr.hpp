#pragma once
// Owning pointers to OpenSSL objects, freed by OpenSSL's own free functions (the JWT verifier and
// the DPoP signer both hold these). Each file picks its own BIGNUM owner: BN_free for public
// numbers, BN_clear_free where a private scalar may be held.
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <memory>

namespace devicelogin::oauth {

template <auto free_function>
struct OpensslDeleter {
  template <class T>
  void operator()(T* pointer) const noexcept {
    free_function(pointer);
  }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, OpensslDeleter<EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, OpensslDeleter<EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpensslDeleter<EVP_MD_CTX_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, OpensslDeleter<OSSL_PARAM_BLD_free>>;
// OpenSSL 3.0's OSSL_PARAM_free clears the block that holds secure BIGNUMs (a private scalar made
// with BN_secure_new) before freeing it.
using ParamPtr = std::unique_ptr<OSSL_PARAM, OpensslDeleter<OSSL_PARAM_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, OpensslDeleter<ECDSA_SIG_free>>;

}  // namespace devicelogin::oauth
