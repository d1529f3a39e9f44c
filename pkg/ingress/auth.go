package ingress

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// equalSecret compares two secrets in constant time. Hashing first keeps
// the time independent of the lengths as well.
func equalSecret(given, want string) bool {
	g := sha256.Sum256([]byte(given))
	w := sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// authenticateHeader reports whether the request's Authorization header
// carries valid Basic credentials or a valid bearer API key.
func (a Auth) authenticateHeader(r *http.Request) bool {
	if a.BasicUser != "" {
		if user, password, ok := r.BasicAuth(); ok {
			userOK := equalSecret(user, a.BasicUser)
			passwordOK := equalSecret(password, a.BasicPassword)
			if userOK && passwordOK {
				return true
			}
		}
	}
	if a.APIKey != "" {
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if ok && strings.EqualFold(scheme, "Bearer") && equalSecret(strings.TrimSpace(token), a.APIKey) {
			return true
		}
	}
	return false
}

// authenticateBody reports whether the body field api_key is the API key.
func (a Auth) authenticateBody(apiKey string) bool {
	return a.APIKey != "" && apiKey != "" && equalSecret(apiKey, a.APIKey)
}
