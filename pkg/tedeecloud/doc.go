// Package tedeecloud is a client for the Tedee Cloud REST API (api.tedee.com, version v37) with
// a personal access key: the device list with settings, firmware and accessories, lock state
// (sync), the activity log ("who opened the door, and how"), door sensors, lock operations and
// their status, and settings writes.
//
// # What it costs
//
// Tedee allows 700 requests per hour per user account, shared by every integration of that
// account, and advises keeping "a free pool of requests to operate on your devices". Every
// method here is exactly one request, never retried by the client (a lock operation must never
// be sent twice; callers decide what to repeat). The typical costs, per Tedee's documentation:
//
//	start-up, device map, firmware   1 × Devices, + 1 × DoorSensors if a lock has a door sensor
//	who/how after a status change    1 × Activity, + one more per retry while the entry is missing
//	a command                        1 × Operate + Operation polls (about 1 s apart; operations
//	                                 take up to 3 s) + 1 × SyncLock
//	a settings write                 1 × Lock (for the revision) + 1 × UpdateSettings
//	                                 (+ 1 re-read on ErrConflict)
//	cloud-only state                 1 × SyncLocks covers every lock; at most 180/h at one per
//	                                 20 s, the interval Tedee asks for
//
// # The budget
//
// The client keeps its own count of the requests it sent in the last hour (a sliding window) and
// refuses, without sending, what would exceed Options.RequestsPerHour ([ErrBudget]). Background
// work (reads, polling) stops short of a reserve of 10 % of the budget, at least 5, so that
// commands a user asked for ([Interactive], see [WithPriority]) can still be sent when background
// work has used up its share. When Tedee answers 429, nothing at all is sent until its
// Retry-After has passed ([ErrRateLimited]). [Client.Stats] reports what was sent and skipped.
//
// The key is sent only in the Authorization header; it never appears in an error, in a String
// of the client or its options, or anywhere else this package produces.
package tedeecloud
