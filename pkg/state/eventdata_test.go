package state

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// depthOf is how deep a decoded JSON value nests (a scalar is 0).
func depthOf(v any) int {
	d := 0
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			d = max(d, depthOf(e))
		}
		return d + 1
	case []any:
		for _, e := range v {
			d = max(d, depthOf(e))
		}
		return d + 1
	}
	return 0
}

// eventPayload applies a status event whose data has extra fields and returns the event topic's
// payload.
func eventPayload(t *testing.T, extra string) []byte {
	t.Helper()
	msgs, err := New("tedee", nil).Apply("home", decode(t, status(t0, 6, extra)), now)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if strings.HasSuffix(m.Topic, "/event") {
			return m.Payload
		}
	}
	t.Fatal("no event message")
	return nil
}

// However deep or large the data a sender nests into a field, the event topic re-encodes it
// within bounds, and keeps what Tedee sends as it is.
func TestEventDataBounded(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 9000) + "1" + strings.Repeat("}", 9000)
	deepArray := strings.Repeat(`[`, 9000) + strings.Repeat("]", 9000)
	var many strings.Builder
	for i := range 55 {
		fmt.Fprintf(&many, `,"x%02d":%q`, i, strings.Repeat("y", 200))
	}
	for name, extra := range map[string]string{
		"9,000-deep object":  `,"source":18,"deep":` + deep,
		"9,000-deep array":   `,"source":18,"deep":` + deepArray,
		"long string":        `,"source":18,"long":"` + strings.Repeat("z", 60000) + `"`,
		"long number":        `,"source":18,"n":1` + strings.Repeat("0", 1000),
		"55 fields of 200 B": `,"source":18` + many.String(),
		"markup and unicode": `,"source":18,"note":"<b>&amp;\u2028 ü</b>","deep":{"a":{"b":{"c":{"d":1}}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			payload := eventPayload(t, extra)
			var ev struct {
				State string         `json:"state"`
				Data  map[string]any `json:"data"`
			}
			if err := json.Unmarshal(payload, &ev); err != nil {
				t.Fatalf("payload does not decode: %v", err)
			}
			// The data is written as encoding/json writes a map (keys sorted, markup escaped):
			// decoded and marshalled again, it comes out the same.
			var raw struct {
				Data json.RawMessage `json:"data"`
			}
			json.Unmarshal(payload, &raw)
			dec := json.NewDecoder(bytes.NewReader(raw.Data))
			dec.UseNumber()
			var again map[string]any
			if err := dec.Decode(&again); err != nil {
				t.Fatalf("data does not decode: %v", err)
			}
			if canon, _ := json.Marshal(again); !bytes.Equal(canon, raw.Data) {
				t.Errorf("data is not as encoding/json writes it:\n%s\nencoding/json:\n%s", raw.Data, canon)
			}
			data, _ := json.Marshal(ev.Data)
			if d := depthOf(ev.Data); d > maxDataDepth || len(data) > maxDataBytes {
				t.Errorf("data nests %d deep and has %d bytes; bounds %d and %d", d, len(data), maxDataDepth, maxDataBytes)
			}
			if ev.State != "locked" || ev.Data["state"] != 6.0 || ev.Data["serialNumber"] != "L-1" || ev.Data["source"] != 18.0 {
				t.Errorf("the fields Tedee sends were not kept: state %q, data %v", ev.State, ev.Data)
			}
		})
	}
	// Within the bounds, data is republished as it came.
	payload := eventPayload(t, `,"source":18,"user_id":0,"nested":{"a":[1,2,{"b":"c"}]}`)
	if !strings.Contains(string(payload), `"nested":{"a":[1,2,{"b":"c"}]}`) {
		t.Errorf("small nested data changed: %s", payload)
	}
}
