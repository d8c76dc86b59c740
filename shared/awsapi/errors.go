package awsapi

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/aws/smithy-go"
)

// code returns the AWS error code of err, if any.
func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// IsThrottled reports an AWS throttling error.
func IsThrottled(err error) bool {
	switch code(err) {
	case "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException", "ProvisionedThroughputExceededException", "RequestThrottled":
		return true
	}
	return false
}

// IsNotFound reports an AWS not-found error.
func IsNotFound(err error) bool {
	c := code(err)
	return strings.HasSuffix(c, "NotFound") || strings.HasSuffix(c, "NotFoundException") || c == "ResourceNotFoundException"
}

// IsConditionalCheckFailed reports a failed DynamoDB condition.
func IsConditionalCheckFailed(err error) bool {
	return code(err) == "ConditionalCheckFailedException"
}

// IsRetryable reports errors a retry can help with: throttling, server
// faults and timeouts. Validation and not-found errors are not retryable.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	if IsThrottled(err) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorFault() == smithy.FaultServer || code(err) == "InternalError" || code(err) == "ServiceUnavailable"
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
