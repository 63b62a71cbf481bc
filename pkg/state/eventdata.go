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

// boundedData is data as the event topic carries it: values nested deeper than maxDataDepth
// and strings longer than maxDataString are replaced by a marker, and, in key order, fields once
// the encoding would pass maxDataBytes.
func boundedData(data map[string]any) map[string]any {
	if data == nil {
		return nil
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make(map[string]any, len(data))
	size := 2 // {}
	for _, k := range keys {
		v := bounded(data[k], 1)
		b, err := json.Marshal(v)
		if err != nil {
			v, b = tooLarge, []byte(strconv.Quote(tooLarge))
		}
		field := len(strconv.Quote(k)) + 1 + len(b) + 1 // "k":v,
		if size+field > maxDataBytes {
			v, field = tooLarge, len(strconv.Quote(k))+1+len(strconv.Quote(tooLarge))+1
			if size+field > maxDataBytes {
				continue // not even the marker fits: the field is left out
			}
		}
		out[k] = v
		size += field
	}
	return out
}

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
