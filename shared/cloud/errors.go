package cloud

import "github.com/kaizen-sre/kaizen/shared/awsapi"

// The classification of AWS errors lives in package awsapi (see api.go).

// IsThrottled reports an AWS throttling error.
func IsThrottled(err error) bool { return awsapi.IsThrottled(err) }

// IsNotFound reports an AWS not-found error.
func IsNotFound(err error) bool { return awsapi.IsNotFound(err) }

// IsConditionalCheckFailed reports a failed DynamoDB condition.
func IsConditionalCheckFailed(err error) bool { return awsapi.IsConditionalCheckFailed(err) }

// IsRetryable reports errors a retry can help with: throttling, server
// faults and timeouts. Validation and not-found errors are not retryable.
func IsRetryable(err error) bool { return awsapi.IsRetryable(err) }
