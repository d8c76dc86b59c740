// Package sim is an in-memory AWS with AWS's semantics and a virtual clock.
// It implements the narrow client interfaces of shared/cloud, so the same
// adapters that call the real SDK clients run against it in tests and in the
// demo. Karpenter style: every call's input is recorded (a deep copy),
// errors can be injected for the next N calls of an operation (Fail, keyed
// by Op), successful mutating calls are counted per operation, and Reset()
// clears the books. Every operation goes through serve, which does all of
// that in one place.
package sim

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/aws/smithy-go"

	"github.com/kaizen-sre/kaizen/shared/alrelease"
	"github.com/kaizen-sre/kaizen/shared/cloud"
)

// Call is one recorded API call. Input is a deep copy of what the caller
// passed: a caller that reuses or changes its input after the call does not
// rewrite the log.
type Call struct {
	At       time.Time
	Service  string
	Op       string
	Mutating bool
	Input    any
	Err      error // the call's outcome: injected, the context's, the simulation's, or throttling
	// Began and Ended are wall-clock times, the latency (Cloud.Latency)
	// included: critical paths are measured from them (CriticalPath).
	Began, Ended time.Time
	// Principal is who signed the call (sts.go): an assumed role's ARN,
	// an access key, or "" for a call made to the simulation directly.
	Principal string
}

type fault struct {
	err   error
	times int
}

// Cloud is the whole simulated account and region.
type Cloud struct {
	mu  sync.Mutex
	now time.Time

	// LaunchDelay is how long an instance takes from launch to InService;
	// HealthyDelay how much longer until healthy in its target group.
	LaunchDelay  time.Duration
	HealthyDelay time.Duration
	// Account is the simulated account's id: the OwnerId of its own
	// images, and what "self" means in DescribeImages' Owners.
	Account string
	// Region is the simulated region, as the ARNs the simulation makes
	// (groups, builds) and its groups' Availability Zones name it.
	Region string
	// Latency is how long every call takes, slept for real (limits.go); 0,
	// the default, keeps tests fast.
	Latency time.Duration
	limits  *limiter // AWS's request token buckets, once Throttle turns them on

	images    map[string]*image
	templates map[string]*template
	groups    map[string]*group
	tgs       map[string]*targetGroup
	listeners map[string]*listener
	rules     map[string]*rule
	rds       *rdsState            // RDS and Secrets Manager (rds.go, secrets.go), made on first use
	alarms    map[string]*simAlarm // CloudWatch alarms (cloudwatch.go), made on first use
	metrics   *metricsState        // per target group metrics (metrics.go), made on first use
	topics    map[string]bool
	projects  map[string]*project
	pipelines map[string]*pipeline
	builds    []*build
	execs     []*execution
	published []Published
	never     map[string]bool
	params    map[string]string

	calls     []Call
	mutations map[Op]int
	faults    map[Op]*fault
	seq       int
}

// DefaultAccount is the simulated account unless a test names another.
const DefaultAccount = "111122223333"

// DefaultRegion is the simulated region unless a test names another.
const DefaultRegion = "eu-west-1"

// AmazonAccount owns AWS's public Amazon Linux AMIs.
const AmazonAccount = "137112412989"

// New returns an empty cloud whose clock starts at start.
func New(start time.Time) *Cloud {
	c := &Cloud{now: start.UTC(), LaunchDelay: 3 * time.Minute, HealthyDelay: 4 * time.Minute, Account: DefaultAccount, Region: DefaultRegion}
	c.clear()
	return c
}

func (c *Cloud) clear() {
	c.images = map[string]*image{}
	c.templates = map[string]*template{}
	c.groups = map[string]*group{}
	c.tgs = map[string]*targetGroup{}
	c.listeners = map[string]*listener{}
	c.rules = map[string]*rule{}
	c.topics = map[string]bool{}
	c.projects = map[string]*project{}
	c.pipelines = map[string]*pipeline{}
	c.never = map[string]bool{}
	c.params = map[string]string{}
	c.builds, c.execs, c.published = nil, nil, nil
	c.calls, c.mutations, c.faults = nil, map[Op]int{}, map[Op]*fault{}
}

// Now is the virtual time.
func (c *Cloud) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock, and with it instance launches, health checks and
// terminations, in steps of at most one minute.
func (c *Cloud) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	end := c.now.Add(d)
	for c.now.Before(end) {
		step := min(time.Minute, end.Sub(c.now))
		c.converge()
		c.meter(step)
		c.meterTraffic(step) // metrics.go
		c.now = c.now.Add(step)
		c.converge()
	}
}

// Fail makes the next `times` calls of op return err; times <= 0 clears
// op's fault. An op the simulation does not implement panics: a misspelt
// fault would otherwise never fire and the test would pass for nothing.
func (c *Cloud) Fail(op Op, err error, times int) {
	if _, ok := ops[op]; !ok {
		panic(fmt.Sprintf("sim: Fail(%q): the simulation implements no such operation (see sim.Ops)", string(op)))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if times <= 0 {
		delete(c.faults, op)
		return
	}
	c.faults[op] = &fault{err: err, times: times}
}

// NeverHealthy marks an AMI whose instances never pass health checks.
func (c *Cloud) NeverHealthy(ami string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.never[ami] = true
}

// Calls returns the recorded calls.
func (c *Cloud) Calls() []Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Call(nil), c.calls...)
}

// Mutations returns the count of successful mutating calls per operation.
// A call AWS answers from its idempotency token (CreateLaunchTemplateVersion
// with a ClientToken it has seen) counts too: it is a call made.
func (c *Cloud) Mutations() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.mutations {
		out[string(k)] = v
	}
	return out
}

// MutationCount is the total of Mutations.
func (c *Cloud) MutationCount() int {
	n := 0
	for _, v := range c.Mutations() {
		n += v
	}
	return n
}

// MutationSummary renders Mutations as "Op×n, ..." in a stable order.
func (c *Cloud) MutationSummary() string {
	m := c.Mutations()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := ""
	for i, k := range keys {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s×%d", k, m[k])
	}
	return s
}

// Reset clears recorded calls, counts and injected faults; the resources
// stay.
func (c *Cloud) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls, c.mutations, c.faults = nil, map[Op]int{}, map[Op]*fault{}
}

// serve runs one simulated operation: the prologue and epilogue every
// operation shares. Under the lock it records a deep copy of in, answers
// with the context's error or an injected fault if there is one, and
// otherwise runs do on a copy of its own, so the simulation's state never
// aliases the caller's input. A mutating op that succeeds is counted.
func serve[In, Out any](c *Cloud, ctx context.Context, op Op, in *In, do func(in *In) (*Out, error)) (*Out, error) {
	info, ok := ops[op]
	if !ok {
		panic(fmt.Sprintf("sim: operation %q is not in the ops table", string(op)))
	}
	began := time.Now()
	c.wait(ctx) // the call's latency, outside the lock: calls overlap, as AWS's do
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, Call{At: c.now, Service: info.service, Op: string(op), Mutating: info.mutating, Input: clone(in), Began: began, Principal: principalOf(ctx)})
	rec := len(c.calls) - 1
	defer func() { c.calls[rec].Ended = time.Now() }()
	var err error
	if err = ctx.Err(); err == nil {
		if f := c.faults[op]; f != nil && f.times > 0 {
			f.times--
			err = f.err
		}
	}
	if err == nil {
		err = c.limits.take(op, info)
	}
	if err != nil {
		c.calls[rec].Err = err
		return nil, err
	}
	if in == nil {
		in = new(In) // the SDK sends an empty request for a nil input
	}
	out, err := do(clone(in))
	if err != nil {
		c.calls[rec].Err = err
		return nil, err
	}
	if info.mutating {
		c.mutations[op]++
	}
	return out, nil
}

func (c *Cloud) id(prefix string) string {
	c.seq++
	return fmt.Sprintf("%s-%017x", prefix, c.seq)
}

// APIError builds an error the way AWS reports it.
func APIError(code, msg string, fault smithy.ErrorFault) error {
	return &smithy.GenericAPIError{Code: code, Message: msg, Fault: fault}
}

// Throttle is a throttling error, as injected faults use it.
func Throttle() error { return APIError("Throttling", "Rate exceeded", smithy.FaultClient) }

// ServerError is a 5xx.
func ServerError() error {
	return APIError("InternalError", "We encountered an internal error. Please try again.", smithy.FaultServer)
}

// Timeout behaves like a request that ran past its deadline.
func Timeout() error { return context.DeadlineExceeded }

func validation(format string, args ...any) error {
	return APIError("ValidationError", fmt.Sprintf(format, args...), smithy.FaultClient)
}

var (
	_ cloud.EC2API          = (*EC2)(nil)
	_ cloud.AutoScalingAPI  = (*AutoScaling)(nil)
	_ cloud.ELBv2API        = (*ELBv2)(nil)
	_ cloud.SNSAPI          = (*SNS)(nil)
	_ cloud.CodeBuildAPI    = (*CodeBuild)(nil)
	_ cloud.CodePipelineAPI = (*CodePipeline)(nil)
	_ alrelease.SSMAPI      = (*SSM)(nil)
)
