package ingress

import (
	"bytes"
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/mailbridge/mailbridge/pkg/cmc"
)

// acceptedContentTypes lists the content types that cmc.Decode reads, for
// the answer to any other one.
const acceptedContentTypes = "application/json, application/x-www-form-urlencoded or multipart/form-data"

// decodeReason returns the reason to answer for a body that cmc.Decode
// rejected, with the likely fix when the Content-Type is the cause.
func decodeReason(contentType string, body []byte, err error) string {
	if errors.Is(err, cmc.ErrUnsupportedMediaType) {
		return err.Error() + ": send Content-Type " + acceptedContentTypes
	}
	// curl -d sends a form Content-Type by default, so a JSON body posted
	// without -H 'Content-Type: application/json' lands here.
	mediaType, _, _ := mime.ParseMediaType(contentType)
	if mediaType == "application/x-www-form-urlencoded" && errors.Is(err, cmc.ErrMalformed) &&
		bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
		return "the body looks like JSON but was read as a form because Content-Type is application/x-www-form-urlencoded: send Content-Type: application/json"
	}
	if errors.Is(err, cmc.ErrMalformed) && !errors.Is(err, cmc.ErrRepeated) {
		return err.Error() + ": send the whole webhook body, as JSON or as form fields"
	}
	return err.Error()
}

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
