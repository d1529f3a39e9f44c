package cmc

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// checkJSON rejects invalid UTF-8 and nesting deeper than maxDepth before
// the body is decoded. encoding/json would replace invalid UTF-8 with
// U+FFFD without an error, which would change the data silently.
func checkJSON(data []byte, maxDepth int) error {
	if !utf8.Valid(data) {
		return fmt.Errorf("%w: body is not valid UTF-8", ErrMalformed)
	}

	depth := 0
	inString := false
	escaped := false
	for _, c := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > maxDepth {
				return fmt.Errorf("%w: JSON nested deeper than %d levels", ErrMalformed, maxDepth)
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}

// describeJSONError turns encoding/json's errors into one short phrase with
// the byte offset, which is what a sender needs to find the problem.
func describeJSONError(err error) string {
	if err.Error() == "unexpected end of JSON input" {
		return "JSON ends early, so the body may have been cut off"
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return fmt.Sprintf("invalid JSON at byte %d: %v", syntaxErr.Offset, syntaxErr)
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		if typeErr.Field == "" {
			return "found a JSON " + typeErr.Value
		}
		return fmt.Sprintf("%s is a JSON %s, expected %s", typeErr.Field, typeErr.Value, typeErr.Type)
	}
	return err.Error()
}
