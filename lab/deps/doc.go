// Package deps is the lab's outside world, for real: a mail provider (an SMTP server, emersion/go-smtp),
// a remote log collector (HTTP) and a payment provider (HTTP), each with a configurable latency
// distribution ([Latency]), plus the clients the lab uses to reach them (an SMTP mailer, a log
// shipper with synchronous and batched asynchronous modes, a payment client). In embedded mode the
// servers start in-process on loopback ports; the clients can point anywhere.
//
// It is the only package of the lab that imports the SMTP library. It must not import headroom's
// measurement packages.
package deps
