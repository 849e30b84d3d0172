package controlplane

import "crypto/x509"

func certPool(caPEM []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errNoCerts
	}
	return pool, nil
}
