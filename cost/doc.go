// Package cost is the serverless cost model: what each invocation of a function is billed on the
// reference platform (AWS Lambda: duration rounded up to the billing granularity × memory → GB-s,
// plus a fee per request, the init phase billed on cold starts), the monthly bill of a traffic
// description (a steady rate, a load result, a daily profile), provisioned concurrency, the
// always-on servers the same traffic needs (sized by a sweep's recommended rate per server), and
// the break-even rate where the two monthly bills are equal. Pure arithmetic: numbers in, numbers
// out.
//
// cost is a measurement-side package: it imports only the standard library and result, never the
// lab.
package cost
