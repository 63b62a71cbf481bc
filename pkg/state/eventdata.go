package state

import (
	"encoding/json"
	"slices"
	"strconv"
)

// The event topic republishes the data a bridge sent, fields we do not know included, so whatever
// arrives is re-encoded within bounds before it is: subscribers (a Python script with a recursive
// parser, Home Assistant) must not choke on a 9,000-level object a sender nested into a field, and
// a message must not carry kilobytes of junk.
const (
	// maxDataDepth is how deep data nests: its fields are level 1, an object or array in one of
	// them level 2, and so on. Tedee's fields are all level 1.
	maxDataDepth = 4
	// maxDataBytes bounds the encoded data. Tedee's data is about 150 bytes.
	maxDataBytes = 4096
	// maxDataString bounds one string in it.
	maxDataString = 256

	tooDeep  = "<omitted: nested too deep>"
	tooLarge = "<omitted: too large>"
)

// boundedData is data as the event topic carries it, encoded: values nested deeper than
// maxDataDepth and strings longer than maxDataString are replaced by a marker, and, in key order,
// fields once the encoding would pass maxDataBytes. The bytes are what json.Marshal of the bounded
// map writes (keys sorted, HTML escaped), assembled from the fields' encodings that the byte limit
// needs anyway: marshalling the map again, sorted again, was most of an event's cost.
func boundedData(data map[string]any) json.RawMessage {
	if data == nil {
		return nil
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := append(make([]byte, 0, 256), '{')
	size := 2 // {}
	for _, k := range keys {
		b, err := json.Marshal(bounded(data[k], 1))
		enc := b
		if err != nil {
			b, enc = []byte(strconv.Quote(tooLarge)), tooLargeJSON
		}
		field := len(strconv.Quote(k)) + 1 + len(b) + 1 // "k":v,
		if size+field > maxDataBytes {
			enc, field = tooLargeJSON, len(strconv.Quote(k))+1+len(strconv.Quote(tooLarge))+1
			if size+field > maxDataBytes {
				continue // not even the marker fits: the field is left out
			}
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		key, _ := json.Marshal(k) // a string always marshals
		out = append(append(append(out, key...), ':'), enc...)
		size += field
	}
	return append(out, '}')
}

// tooLargeJSON is the tooLarge marker as json.Marshal writes it.
var tooLargeJSON, _ = json.Marshal(tooLarge)

// bounded copies a decoded JSON value at the given depth within the bounds of boundedData.
func bounded(v any, depth int) any {
	switch v := v.(type) {
	case map[string]any:
		if depth >= maxDataDepth {
			return tooDeep
		}
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = bounded(e, depth+1)
		}
		return out
	case []any:
		if depth >= maxDataDepth {
			return tooDeep
		}
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = bounded(e, depth+1)
		}
		return out
	case string:
		if len(v) > maxDataString {
			return tooLarge
		}
		return v
	case json.Number:
		if len(v) > maxDataString {
			return tooLarge
		}
		return v
	}
	return v // bool, nil, float64: small
}
