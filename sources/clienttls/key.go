package clienttls

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
)

// errKeyFormat hides whatever the key holds.
var errKeyFormat = errors.New("not an encrypted PEM private key (PKCS#8 PBES2 or legacy PEM encryption)")

// MaxIterations bounds the PBKDF2 iteration count of an encrypted PKCS#8
// key: a million derivations of a 32-byte key took 0.39 s with HMAC-SHA1
// and 0.18 s with HMAC-SHA256 on a 2-core test machine (openssl's
// default is 2,048; OWASP's advice for PBKDF2-HMAC-SHA256 600,000).
const MaxIterations = 1_000_000

// maxSalt bounds the salt (RFC 8018 suggests 8 bytes or more).
const maxSalt = 1024

// DecryptKey decrypts a PEM private key: PKCS#8 "ENCRYPTED PRIVATE KEY"
// (PBES2 with PBKDF2 and AES-CBC or 3DES-CBC, what openssl writes), or a
// legacy "Proc-Type: 4,ENCRYPTED" block. An unencrypted key is returned as
// is, as KEDA's parser would accept it.
func DecryptKey(keyPEM []byte, password string) ([]byte, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, errKeyFormat
	}
	switch {
	case block.Type == "ENCRYPTED PRIVATE KEY":
		der, err := decryptPKCS8(block.Bytes, password)
		if err != nil {
			return nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
	case x509.IsEncryptedPEMBlock(block): //nolint:staticcheck // legacy keys are still met
		der, err := x509.DecryptPEMBlock(block, []byte(password)) //nolint:staticcheck // as above
		if err != nil {
			return nil, errors.New("wrong keyPassword or corrupt key")
		}
		return pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: der}), nil
	default:
		return keyPEM, nil
	}
}

var (
	oidPBES2      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACSHA384 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	oidAES128CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidDESEDE3CBC = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
)

type encryptedPrivateKeyInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	Data      []byte
}

type pbes2Params struct {
	KDF        pkix.AlgorithmIdentifier
	Encryption pkix.AlgorithmIdentifier
}

type pbkdf2Params struct {
	Salt       []byte
	Iterations int
	KeyLength  int                      `asn1:"optional"`
	PRF        pkix.AlgorithmIdentifier `asn1:"optional"`
}

// decryptPKCS8 decrypts an EncryptedPrivateKeyInfo (RFC 8018 PBES2) to the
// DER of a PrivateKeyInfo.
func decryptPKCS8(der []byte, password string) ([]byte, error) {
	var info encryptedPrivateKeyInfo
	if _, err := asn1.Unmarshal(der, &info); err != nil || !info.Algorithm.Algorithm.Equal(oidPBES2) {
		return nil, errKeyFormat
	}
	var params pbes2Params
	if _, err := asn1.Unmarshal(info.Algorithm.Parameters.FullBytes, &params); err != nil || !params.KDF.Algorithm.Equal(oidPBKDF2) {
		return nil, errKeyFormat
	}
	var kdf pbkdf2Params
	if _, err := asn1.Unmarshal(params.KDF.Parameters.FullBytes, &kdf); err != nil || kdf.Iterations <= 0 {
		return nil, errKeyFormat
	}
	if kdf.Iterations > MaxIterations {
		// The Secret's author chooses the count: unbounded, it would hold
		// the caller (a reconcile worker) as long as they like.
		return nil, fmt.Errorf("the key's PBKDF2 iteration count %d is more than the %d allowed; re-encrypt it with fewer (openssl pkcs8 -topk8 -v2 aes-256-cbc -iter 100000)",
			kdf.Iterations, MaxIterations)
	}
	if len(kdf.Salt) > maxSalt {
		return nil, errKeyFormat
	}
	var iv []byte
	if _, err := asn1.Unmarshal(params.Encryption.Parameters.FullBytes, &iv); err != nil {
		return nil, errKeyFormat
	}
	var (
		keyLen   int
		newBlock func([]byte) (cipher.Block, error)
	)
	switch alg := params.Encryption.Algorithm; {
	case alg.Equal(oidAES128CBC):
		keyLen, newBlock = 16, aes.NewCipher
	case alg.Equal(oidAES192CBC):
		keyLen, newBlock = 24, aes.NewCipher
	case alg.Equal(oidAES256CBC):
		keyLen, newBlock = 32, aes.NewCipher
	case alg.Equal(oidDESEDE3CBC):
		keyLen, newBlock = 24, des.NewTripleDESCipher
	default:
		return nil, errors.New("unsupported key encryption (use AES-CBC or 3DES-CBC)")
	}
	var h func() hash.Hash
	switch prf := kdf.PRF.Algorithm; {
	case len(prf) == 0 || prf.Equal(oidHMACSHA1):
		h = sha1.New
	case prf.Equal(oidHMACSHA256):
		h = sha256.New
	case prf.Equal(oidHMACSHA384):
		h = sha512.New384
	case prf.Equal(oidHMACSHA512):
		h = sha512.New
	default:
		return nil, errors.New("unsupported key derivation (use PBKDF2 with HMAC-SHA1 or SHA-2)")
	}
	key, err := pbkdf2.Key(h, password, kdf.Salt, kdf.Iterations, keyLen)
	if err != nil {
		return nil, errKeyFormat
	}
	block, err := newBlock(key)
	if err != nil || len(iv) != block.BlockSize() || len(info.Data) == 0 || len(info.Data)%block.BlockSize() != 0 {
		return nil, errKeyFormat
	}
	out := make([]byte, len(info.Data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, info.Data)
	pad := int(out[len(out)-1])
	if pad == 0 || pad > block.BlockSize() {
		return nil, errors.New("wrong keyPassword or corrupt key")
	}
	for _, b := range out[len(out)-pad:] {
		if int(b) != pad {
			return nil, errors.New("wrong keyPassword or corrupt key")
		}
	}
	out = out[:len(out)-pad]
	if _, err := x509.ParsePKCS8PrivateKey(out); err != nil {
		return nil, errors.New("wrong keyPassword or corrupt key")
	}
	return out, nil
}
