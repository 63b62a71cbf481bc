package main

import "github.com/tedee2mqtt/tedee2mqtt/pkg/webhook"

// fdReserve is the descriptors kept for everything but webhook connections: the broker
// connection (or the embedded broker's clients), Bridge API requests, state.json, the logs.
const fdReserve = 256

// maxConns is how many webhook connections may be open at once with that many descriptors:
// refused early, below the limit, rather than by a failing accept (0: unknown, the default).
func maxConns(fileLimit uint64) int {
	const ceiling = 1 << 16 // a sane bound whatever the limit says ("unlimited" is 2^63)
	if fileLimit == 0 {
		return webhook.DefaultMaxConns
	}
	if fileLimit <= 2*fdReserve {
		return max(int(fileLimit)/2, 16)
	}
	return int(min(fileLimit-fdReserve, ceiling))
}
