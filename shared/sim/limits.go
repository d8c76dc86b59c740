package sim

// Latency, throttling and page sizes: what makes the simulation's call
// counts and tick times the ones a real account would see.
//
// AWS's numbers, and where they come from (per account and Region):
//
//   - EC2 throttles each API on its own token bucket. Non-mutating
//     (Describe*) actions: a bucket of 100 tokens refilled at 20 a second
//     ("Request throttling for the Amazon EC2 API",
//     https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html,
//     whose example is DescribeHosts). Its error is RequestLimitExceeded.
//     The buckets of the mutating actions kaizen calls
//     (CreateLaunchTemplateVersion, DeregisterImage, DeleteSnapshot) are
//     assumed here to be those of the page's table for mutating actions,
//     200 tokens refilled at 10 a second; kaizen makes a handful per tick.
//   - ELB API version 2 (ALB, NLB, GWLB) has its own buckets: non-mutating
//     actions share one of 40 tokens refilled at 10 a second ("Request
//     throttling for the ELB API",
//     https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-api-throttling.html).
//     The page names the error ThrottlingException with "Rate exceeded";
//     the awsQuery wire code is Throttling, which the SDK and
//     awsapi.IsThrottled both take as throttling. The mutating actions'
//     bucket is not given a number we could confirm: assumed 20 tokens at
//     5 a second.
//   - EC2 Auto Scaling: every Amazon EC2 Auto Scaling API call shares one
//     bucket (AWS re:Post, "autoscaling-api-calls-throttled"), but AWS
//     publishes no number. Assumed conservatively: 20 tokens at 5 a second,
//     below ELB's documented Describe* rate. Error: Throttling, "Rate
//     exceeded".
//
// Page sizes and per-call limits, from the API references:
//
//   - DescribeAutoScalingGroups: MaxRecords defaults to 50, at most 100;
//     "by default, you can only specify up to 50 names", up to MaxRecords
//     with it; NextToken pages.
//   - DescribeImages: MaxResults pages (NextToken), at most 1,000 a page;
//     without it the answer is unpaginated.
//   - DescribeLaunchTemplateVersions: one launch template per call (by id
//     or name; without one only $Latest or $Default across all templates);
//     MaxResults 1..200.
//   - DescribeListeners, DescribeRules: any number of ARNs (no maximum is
//     documented); PageSize 1..400, NextMarker pages. With no PageSize the
//     simulation pages at 400 (ELB documents 400 as the classic API's
//     default).
//   - DescribeTargetHealth: one target group per call, unpaginated.
//
// Default quotas that matter at scale: 500 Auto Scaling groups per Region
// (https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-account-limits.html):
// 500 apps of two colors in one account and Region need 1,000, a quota
// increase, or several accounts.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/smithy-go"
)

// Rate is one token bucket: Burst tokens, refilled at PerSecond.
type Rate struct {
	Burst     int
	PerSecond float64
}

// The families of operations that share a bucket, as AWSRates names them.
const (
	FamilyAutoScaling  = "autoscaling"
	FamilyELBDescribe  = "elbv2:describe"
	FamilyELBMutate    = "elbv2:mutate"
	familyEC2Describe  = "ec2:describe:" // + the operation: EC2's buckets are per API
	familyEC2Mutate    = "ec2:mutate:"
	familyUnthrottled  = ""
	defaultListPage    = 400 // DescribeListeners and DescribeRules without a PageSize
	maxListPage        = 400
	defaultGroupsPage  = 50
	maxGroupsPage      = 100
	maxImagesPage      = 1000
	maxTemplateVersion = 200
)

// AWSRates are AWS's default request rates for the services kaizen's
// fleet calls (see the top of this file for sources and assumptions).
// Keys are families: FamilyAutoScaling, FamilyELBDescribe,
// FamilyELBMutate, "ec2:describe" and "ec2:mutate" (one bucket of that
// size per EC2 operation).
func AWSRates() map[string]Rate {
	return map[string]Rate{
		"ec2:describe":    {Burst: 100, PerSecond: 20}, // documented
		"ec2:mutate":      {Burst: 200, PerSecond: 10}, // the table's mutating actions, unconfirmed
		FamilyELBDescribe: {Burst: 40, PerSecond: 10},  // documented
		FamilyELBMutate:   {Burst: 20, PerSecond: 5},   // assumed
		FamilyAutoScaling: {Burst: 20, PerSecond: 5},   // assumed: AWS publishes no number
	}
}

// family is the bucket an operation draws from ("" for services the
// simulation does not throttle).
func family(op Op, info opInfo) string {
	switch info.service {
	case "ec2":
		if info.mutating {
			return familyEC2Mutate + string(op)
		}
		return familyEC2Describe + string(op)
	case "elbv2":
		if info.mutating {
			return FamilyELBMutate
		}
		return FamilyELBDescribe
	case "autoscaling":
		return FamilyAutoScaling
	}
	return familyUnthrottled
}

type bucket struct {
	rate   Rate
	tokens float64
	at     time.Time
}

// limiter holds the buckets, on the wall clock: Latency is slept for
// real, so refills follow real time too.
type limiter struct {
	rates   map[string]Rate
	buckets map[string]*bucket
	now     func() time.Time
}

// Throttle turns AWS's request throttling on with the given rates (nil
// turns it off), every bucket full. Calls beyond a bucket fail as AWS
// fails them: RequestLimitExceeded on EC2, Throttling elsewhere.
func (c *Cloud) Throttle(rates map[string]Rate) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rates == nil {
		c.limits = nil
		return
	}
	c.limits = &limiter{rates: rates, buckets: map[string]*bucket{}, now: time.Now}
}

// take draws a token for op, or answers with AWS's throttling error. The
// caller holds c.mu.
func (l *limiter) take(op Op, info opInfo) error {
	if l == nil {
		return nil
	}
	fam := family(op, info)
	if fam == familyUnthrottled {
		return nil
	}
	key := fam
	if strings.HasPrefix(fam, "ec2:") {
		key = strings.Join(strings.SplitN(fam, ":", 3)[:2], ":")
	}
	rate, ok := l.rates[key]
	if !ok {
		return nil
	}
	now := l.now()
	b := l.buckets[fam]
	if b == nil {
		b = &bucket{rate: rate, tokens: float64(rate.Burst), at: now}
		l.buckets[fam] = b
	}
	b.tokens = min(float64(rate.Burst), b.tokens+now.Sub(b.at).Seconds()*rate.PerSecond)
	b.at = now
	if b.tokens < 1 {
		if info.service == "ec2" {
			return APIError("RequestLimitExceeded", "Request limit exceeded.", smithy.FaultClient)
		}
		return Throttle()
	}
	b.tokens--
	return nil
}

// Throttled counts the recorded calls answered with a throttling error.
func (c *Cloud) Throttled() int {
	n := 0
	for _, call := range c.Calls() {
		var ae smithy.APIError
		if call.Err != nil && errors.As(call.Err, &ae) {
			switch ae.ErrorCode() {
			case "Throttling", "ThrottlingException", "RequestLimitExceeded":
				n++
			}
		}
	}
	return n
}

// wait sleeps the call's latency, or until ctx ends.
func (c *Cloud) wait(ctx context.Context) {
	c.mu.Lock()
	d := c.Latency
	c.mu.Unlock()
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// CriticalPath is the longest chain of calls each of which began after the
// one before it ended: the sequential round trips of the calls recorded
// (Reset starts a new record). Calls that overlap are parallel and count
// once. It returns the chain's length and its operations, in order.
func CriticalPath(calls []Call) (int, []string) {
	cs := append([]Call(nil), calls...)
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].Began.Before(cs[j].Began) })
	depth := make([]int, len(cs))
	prev := make([]int, len(cs))
	best := -1
	for i := range cs {
		depth[i], prev[i] = 1, -1
		for j := 0; j < i; j++ {
			if !cs[j].Ended.After(cs[i].Began) && depth[j]+1 > depth[i] {
				depth[i], prev[i] = depth[j]+1, j
			}
		}
		if best < 0 || depth[i] > depth[best] {
			best = i
		}
	}
	if best < 0 {
		return 0, nil
	}
	var path []string
	for i := best; i >= 0; i = prev[i] {
		path = append([]string{cs[i].Op}, path...)
	}
	return depth[best], path
}

// PathTo is the longest chain of sequential calls that ends with the
// first call of op, op included: the round trips on the way to it. It
// returns 0 if no call is of op.
func PathTo(calls []Call, op string) (int, []string) {
	target := -1
	for i, c := range calls {
		if c.Op == op && (target < 0 || c.Began.Before(calls[target].Began)) {
			target = i
		}
	}
	if target < 0 {
		return 0, nil
	}
	t := calls[target]
	var before []Call
	for i, c := range calls {
		if i != target && !c.Ended.After(t.Began) {
			before = append(before, c)
		}
	}
	n, path := CriticalPath(before)
	return n + 1, append(path, t.Op)
}

// pageOf cuts the items of one page out of n, from token (an offset written
// by the previous page) with size items: it returns the range and the
// token of the next page ("" on the last).
func pageOf(op Op, token string, size, n int) (int, int, string, error) {
	from := 0
	if token != "" {
		prefix := string(op) + ":"
		v, err := strconv.Atoi(strings.TrimPrefix(token, prefix))
		if !strings.HasPrefix(token, prefix) || err != nil || v < 0 || v > n {
			return 0, 0, "", APIError(invalidToken(op), fmt.Sprintf("The token '%s' is invalid.", token), smithy.FaultClient)
		}
		from = v
	}
	to := min(from+size, n)
	next := ""
	if to < n {
		next = fmt.Sprintf("%s:%d", op, to)
	}
	return from, to, next, nil
}

func invalidToken(op Op) string {
	if op.Service() == "ec2" {
		return "InvalidNextToken"
	}
	return "ValidationError"
}

// pageSize reads an optional page-size parameter within [1, max].
func pageSize(name string, v *int32, dflt, maxSize int) (int, error) {
	if v == nil {
		return dflt, nil
	}
	if *v < 1 || int(*v) > maxSize {
		return 0, validation("1 validation error detected: Value '%d' at '%s' failed to satisfy constraint: Member must have value between 1 and %d", *v, name, maxSize)
	}
	return int(*v), nil
}
