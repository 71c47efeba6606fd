// Package loadgen generates HTTP load and measures latency honestly.
//
// In the open model an arrival process (a Shape, a pure function of elapsed time) fixes when each
// request is due; a bounded pool of connections sends them; latency is measured from the due time,
// so a slow answer that holds back later requests is charged to them (no coordinated omission). In
// the closed model a fixed number of users each send, wait for the answer, think, and repeat.
//
// loadgen never imports the lab: it reaches targets over the wire only.
package loadgen
