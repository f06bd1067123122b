package testserver

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 and localhost
// and its key into dir, and returns their paths and the certificate's PEM.
func selfSigned(dir string) (certFile, keyFile string, certPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sessionkit test server"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		return "", "", nil, err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return "", "", nil, err
	}
	return certFile, keyFile, certPEM, nil
}

// redisTLSReady reports whether the Redis server at addr answers PING over
// TLS, its certificate unverified and without a client certificate.
func redisTLSReady(addr string) error {
	return redisTLSReadyWith(&tls.Config{InsecureSkipVerify: true})(addr)
}

// redisTLSReadyWith is redisTLSReady with the client's TLS configuration
// cfg: a client certificate for a server that requires one.
func redisTLSReadyWith(cfg *tls.Config) func(addr string) error {
	return func(addr string) error { return redisPingTLS(addr, cfg) }
}

// redisPingTLS sends PING over TLS with cfg and expects +PONG.
func redisPingTLS(addr string, cfg *tls.Config) error {
	d := &net.Dialer{Timeout: time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// StartRedisTLS starts a redis-server that speaks only TLS, with a fresh
// self-signed certificate for 127.0.0.1 (in the returned Server's CertPEM),
// and stops it in t.Cleanup. Clients need not present a certificate.
func StartRedisTLS(t testing.TB) *Server {
	t.Helper()
	bin, err := redisBinary()
	check(t, err)
	dir := t.TempDir()
	certFile, keyFile, certPEM, err := selfSigned(dir)
	if err != nil {
		t.Fatalf("testserver: certificate: %v", err)
	}
	s := launchRedisTLS(t, "redis-tls", bin, dir, certFile, keyFile, certFile, false, redisTLSReady)
	s.CertPEM = certPEM
	return s
}

// launchRedisTLS starts redis-server bin in dir, speaking only TLS with the
// server certificate certFile and its key keyFile, the authority caFile
// verifying the clients' certificates (which it requires with
// authClients), ready once ready answers, and stops it in t.Cleanup.
func launchRedisTLS(t testing.TB, name, bin, dir, certFile, keyFile, caFile string, authClients bool, ready func(string) error) *Server {
	t.Helper()
	auth := "no"
	if authClients {
		auth = "yes"
	}
	s, err := launch(name, bin, dir, func(port int) ([]string, error) {
		args := redisBaseArgs(0, dir) // no plain-text port
		return append(args,
			"--tls-port", strconv.Itoa(port),
			"--tls-cert-file", certFile,
			"--tls-key-file", keyFile,
			"--tls-ca-cert-file", caFile,
			"--tls-auth-clients", auth,
		), nil
	}, ready)
	if s != nil {
		t.Cleanup(s.Kill)
	}
	check(t, err)
	return s
}

// PKIServerName is the DNS name, besides localhost, that [NewPKI]'s server
// certificate is for; a name no resolver knows, for a client that connects
// to 127.0.0.1 and verifies another name (a TLS server name setting).
const PKIServerName = "redis.sessionkit.test"

// PKI is a throwaway certificate authority and the PEM files of the two
// certificates it signed: a server's, for 127.0.0.1, localhost and
// [PKIServerName], and a client's. Every file is in the directory given to
// [NewPKI]; the keys are unencrypted ECDSA P-256 keys.
type PKI struct {
	// CAFile is the authority's certificate: what a client trusts to
	// verify the server, and a server to verify a client.
	CAFile string
	// ServerCertFile and ServerKeyFile are the server's certificate and key.
	ServerCertFile, ServerKeyFile string
	// ClientCertFile and ClientKeyFile are the client's certificate and key.
	ClientCertFile, ClientKeyFile string
}

// NewPKI writes a fresh certificate authority, a server certificate and a
// client certificate it signed, and their keys, into dir. The
// certificates are valid from an hour ago for a day.
func NewPKI(dir string) (*PKI, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sessionkit test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	p := &PKI{CAFile: filepath.Join(dir, "ca.pem")}
	if err := os.WriteFile(p.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		return nil, err
	}
	leaf := func(serial int64, name string, usage x509.ExtKeyUsage, ips []net.IP, dns []string) (certFile, keyFile string, err error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return "", "", err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: "sessionkit test " + name},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			IPAddresses:  ips,
			DNSNames:     dns,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return "", "", err
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return "", "", err
		}
		certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
		if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
			return "", "", err
		}
		if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
			return "", "", err
		}
		return certFile, keyFile, nil
	}
	if p.ServerCertFile, p.ServerKeyFile, err = leaf(2, "server", x509.ExtKeyUsageServerAuth,
		[]net.IP{net.IPv4(127, 0, 0, 1)}, []string{"localhost", PKIServerName}); err != nil {
		return nil, err
	}
	if p.ClientCertFile, p.ClientKeyFile, err = leaf(3, "client", x509.ExtKeyUsageClientAuth, nil, nil); err != nil {
		return nil, err
	}
	return p, nil
}

// clientTLS is the TLS configuration of a client that trusts the PKI's
// authority and presents its client certificate.
func (p *PKI) clientTLS() (*tls.Config, error) {
	caPEM, err := os.ReadFile(p.CAFile)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("no certificate in %s", p.CAFile)
	}
	cert, err := tls.LoadX509KeyPair(p.ClientCertFile, p.ClientKeyFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}, ServerName: "127.0.0.1"}, nil
}

// StartRedisTLSPKI starts a redis-server that speaks only TLS, with a
// server certificate that a fresh [PKI] signed, and stops it in t.Cleanup.
// With clientCerts the server requires every client to present a
// certificate that the same authority signed (redis-server's
// tls-auth-clients yes); without, clients need not present one. The
// returned PKI has the files a client needs: the authority's certificate
// and a client certificate and key.
func StartRedisTLSPKI(t testing.TB, clientCerts bool) (*Server, *PKI) {
	t.Helper()
	bin, err := redisBinary()
	check(t, err)
	dir := t.TempDir()
	pki, err := NewPKI(dir)
	if err != nil {
		t.Fatalf("testserver: certificates: %v", err)
	}
	ready, err := pki.clientTLS()
	if err != nil {
		t.Fatalf("testserver: certificates: %v", err)
	}
	s := launchRedisTLS(t, "redis-tls-pki", bin, dir, pki.ServerCertFile, pki.ServerKeyFile, pki.CAFile, clientCerts, redisTLSReadyWith(ready))
	return s, pki
}
