package ingress

import (
	"net/http"
	"strings"
)

// unauthorizedMessage returns the 401 error message for a request that did not
// authenticate, naming only the configured methods. bodyProblem, when
// not empty, is why the body's api_key field could not be read.
func (a Auth) unauthorizedMessage(header http.Header, bodyProblem string) string {
	if bodyProblem != "" && a.BasicUser == "" && a.APIKey != "" && header.Get("Authorization") == "" {
		return "the body could not be read (" + bodyProblem + "), so its api_key field was not found: fix the body or send the key as Authorization: Bearer"
	}
	var methods []string
	if a.BasicUser != "" || a.BasicPassword != "" {
		methods = append(methods, "the configured Basic credentials")
	}
	if a.APIKey != "" {
		methods = append(methods, "the API key as Authorization: Bearer or in the api_key field")
	}
	return "authentication failed: send " + strings.Join(methods, ", or ")
}
