package backfill

import (
	"encoding/json"
	"fmt"
)

// APIFieldNames maps a field name of the REST API's records to the
// webhook's version 2 name; an empty name drops the field. Fields not
// listed keep their names.
//
// NOTE: CMC does not document the field names of its list records. They
// are assumed to be the webhook's version 2 names (created, returnPath,
// from, to, messageId, subject, reason, senderIp, sourceIp, apiData,
// status), so the table is empty. A field that differs, or one that only
// the API sends, changes the event id and makes every backfilled event a
// duplicate of its webhook twin: add it here.
var APIFieldNames = map[string]string{}

// renameFields returns the record with its fields renamed by names. The
// record comes back unchanged when names is empty.
func renameFields(raw json.RawMessage, names map[string]string) (json.RawMessage, error) {
	if len(names) == 0 {
		return raw, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("record is not a JSON object: %w", err)
	}
	for from, to := range names {
		value, ok := fields[from]
		if !ok {
			continue
		}
		delete(fields, from)
		if to != "" {
			fields[to] = value
		}
	}
	return json.Marshal(fields)
}
