// Package e2e runs kaizen's packaged functions end to end: each function's
// host `bootstrap` (make build-host) runs under the AWS Lambda Runtime
// Interface Emulator (bin/aws-lambda-rie, make deps), talks to the simulated
// AWS over HTTP (shared/simhttp, through AWS_ENDPOINT_URL) and to DynamoDB
// on loopback (dynalite), exactly as it would to AWS. The tests drive a whole
// release through the real binaries, feed them bad events and a bad
// configuration, poll an ALAS feed served from testdata, react to a secret
// change, serve the simulation with `kaizen sim serve`, and measure how long
// each function takes from process start to ready for its first event.
//
// The package has only tests. They never skip: a missing emulator or
// bootstrap fails with the command that builds it.
package e2e
