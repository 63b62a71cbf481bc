package state

// Outcome says what became of one received event. Every value but Applied means nothing was
// published; none of them is a failure, so they are values, not errors. The words double as
// metric labels.
type Outcome string

const (
	Applied      Outcome = "applied"       // applied and published
	Stale        Outcome = "stale"         // older than what was applied: dropped
	UnknownEvent Outcome = "unknown_event" // not a documented event: ignored, never published as if known
	Duplicate    Outcome = "duplicate"     // cloud: a copy of a webhook already received
	Unmapped     Outcome = "unmapped"      // cloud: no lock serial known for the device id
)
