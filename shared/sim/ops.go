package sim

import (
	"reflect"
	"sort"
)

// Op names one operation the simulation implements. Faults are keyed by
// it, and Fail refuses any Op not listed here, so a misspelt fault cannot
// silently never fire.
type Op string

// The operations, by service.
const (
	OpDescribeImages                 Op = "DescribeImages"
	OpDescribeLaunchTemplateVersions Op = "DescribeLaunchTemplateVersions"
	OpCreateLaunchTemplateVersion    Op = "CreateLaunchTemplateVersion"
	OpDeregisterImage                Op = "DeregisterImage"
	OpDeleteSnapshot                 Op = "DeleteSnapshot"

	OpDescribeAutoScalingGroups Op = "DescribeAutoScalingGroups"
	OpUpdateAutoScalingGroup    Op = "UpdateAutoScalingGroup"
	OpSuspendProcesses          Op = "SuspendProcesses"
	OpResumeProcesses           Op = "ResumeProcesses"

	OpDescribePolicies              Op = "DescribePolicies"
	OpPutScalingPolicy              Op = "PutScalingPolicy"
	OpDeletePolicy                  Op = "DeletePolicy"
	OpDescribeScheduledActions      Op = "DescribeScheduledActions"
	OpPutScheduledUpdateGroupAction Op = "PutScheduledUpdateGroupAction"
	OpDeleteScheduledAction         Op = "DeleteScheduledAction"

	OpDescribeListeners    Op = "DescribeListeners"
	OpModifyListener       Op = "ModifyListener"
	OpDescribeRules        Op = "DescribeRules"
	OpModifyRule           Op = "ModifyRule"
	OpDescribeTargetHealth Op = "DescribeTargetHealth"

	OpPublish Op = "Publish"

	OpStartBuild           Op = "StartBuild"
	OpListBuildsForProject Op = "ListBuildsForProject"
	OpBatchGetBuilds       Op = "BatchGetBuilds"

	OpStartPipelineExecution Op = "StartPipelineExecution"
	OpListPipelineExecutions Op = "ListPipelineExecutions"

	OpGetParameter Op = "GetParameter"
)

type opInfo struct {
	service  string // as the SDK package names it (and access.Action takes it)
	mutating bool
}

// ops is every operation the simulation implements (RDS and Secrets
// Manager add theirs in rds.go and secrets.go). A test checks that
// each one is a method of the simulated client of its service, and that
// every such method is listed.
var ops = map[Op]opInfo{
	OpDescribeImages:                 {"ec2", false},
	OpDescribeLaunchTemplateVersions: {"ec2", false},
	OpCreateLaunchTemplateVersion:    {"ec2", true},
	OpDeregisterImage:                {"ec2", true},
	OpDeleteSnapshot:                 {"ec2", true},

	OpDescribeAutoScalingGroups: {"autoscaling", false},
	OpUpdateAutoScalingGroup:    {"autoscaling", true},
	OpSuspendProcesses:          {"autoscaling", true},
	OpResumeProcesses:           {"autoscaling", true},

	OpDescribePolicies:              {"autoscaling", false},
	OpPutScalingPolicy:              {"autoscaling", true},
	OpDeletePolicy:                  {"autoscaling", true},
	OpDescribeScheduledActions:      {"autoscaling", false},
	OpPutScheduledUpdateGroupAction: {"autoscaling", true},
	OpDeleteScheduledAction:         {"autoscaling", true},

	OpDescribeListeners:    {"elbv2", false},
	OpModifyListener:       {"elbv2", true},
	OpDescribeRules:        {"elbv2", false},
	OpModifyRule:           {"elbv2", true},
	OpDescribeTargetHealth: {"elbv2", false},

	OpPublish: {"sns", true},

	OpStartBuild:           {"codebuild", true},
	OpListBuildsForProject: {"codebuild", false},
	OpBatchGetBuilds:       {"codebuild", false},

	OpStartPipelineExecution: {"codepipeline", true},
	OpListPipelineExecutions: {"codepipeline", false},

	OpGetParameter: {"ssm", false},
}

// Ops lists every operation the simulation implements, sorted.
func Ops() []Op {
	out := make([]Op, 0, len(ops))
	for op := range ops {
		out = append(out, op)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Service is the service op belongs to, as the SDK package names it
// ("ec2", "elbv2", ...); "" for an op the simulation does not implement.
func (op Op) Service() string { return ops[op].service }

// Mutating reports whether op changes state (and is counted by Mutations).
func (op Op) Mutating() bool { return ops[op].mutating }

// clone deeply copies *in, so that neither the call log nor the simulated
// state shares memory with the caller's input. SDK inputs are trees of
// pointers, slices, maps and structs; unexported fields (the SDK's
// zero-size serde markers) are copied as they are.
func clone[T any](in *T) *T {
	if in == nil {
		return nil
	}
	return deepCopy(reflect.ValueOf(in)).Interface().(*T)
}

func deepCopy(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		p := reflect.New(v.Type().Elem())
		p.Elem().Set(deepCopy(v.Elem()))
		return p
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		s := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			s.Index(i).Set(deepCopy(v.Index(i)))
		}
		return s
	case reflect.Array:
		a := reflect.New(v.Type()).Elem()
		for i := range v.Len() {
			a.Index(i).Set(deepCopy(v.Index(i)))
		}
		return a
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		m := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			m.SetMapIndex(deepCopy(it.Key()), deepCopy(it.Value()))
		}
		return m
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		i := reflect.New(v.Type()).Elem()
		i.Set(deepCopy(v.Elem()))
		return i
	case reflect.Struct:
		s := reflect.New(v.Type()).Elem()
		s.Set(v)
		for i := range s.NumField() {
			if f := s.Field(i); f.CanSet() {
				f.Set(deepCopy(v.Field(i)))
			}
		}
		return s
	}
	return v
}
