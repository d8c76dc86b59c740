// Package conformance runs kaizen against a third-party emulator of AWS:
// moto's server (moto 5.2.1, `moto_server`), which implements EC2, Auto
// Scaling, ELBv2, SNS, DynamoDB, CodeBuild and Secrets Manager independently
// of kaizen and of its own simulation (shared/sim). It is the second opinion
// of DESIGN.md §9: where kaizen's SDK adapters and moto's reading of the AWS
// APIs disagree, these tests fail.
//
// Each test builds a blue/green fleet in moto through the real SDK clients
// (a VPC and subnets, a golden AMI, two launch templates, two target groups,
// an ALB with its listener and the office preview rule, two Auto Scaling
// groups, an SNS topic), writes a kaizen configuration for it, and drives
// the packaged functions (build/lambda/host/<fn>/bootstrap under
// bin/aws-lambda-rie) and the operator CLI with real-shaped EventBridge
// events. The assertions read moto's state back through the SDK: the
// listener's default action, the preview rule's action, each group's
// launch template version and capacity, the AMIs and snapshots that remain.
//
// Every test runs in its own moto region, so they run in parallel against
// one moto_server. DynamoDB is moto's too: the state store gets a second
// opinion as well. The functions and the CLI reach moto through a recording
// proxy (proxy_test.go), which counts their calls (moto counts nothing) so
// that a test can say "one ModifyListener, nothing mutating before it".
//
// TestSimAgainstMoto asks shared/sim (served by shared/simhttp) and moto the
// same questions through the SDK; the differences found so far are listed,
// with the side AWS's documentation takes, in knownDifferences; a new one
// fails the test.
//
// Where moto departs from AWS's documented behaviour, fidelity_test.go holds
// a small, commented patch per difference. The package has only tests; they
// never skip: a missing moto_server, emulator or bootstrap fails with the
// command that installs it.
package conformance
