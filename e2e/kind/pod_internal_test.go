package kind

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// These tests run without Docker: the waiting logic of the kind tier
// against a fake clientset that plays the kubelet and the scheduler.

// pod returns a command pod named vanlink-x in status, changed by mods.
func pod(mods ...func(*corev1.Pod)) *corev1.Pod {
	p := CommandPod("service-interconnect", "vanlink-", "sync", "ghcr.io/vanlink/vanlink:e2e-kind", []string{"sync"})
	p.Name = "vanlink-x"
	p.Status.Phase = corev1.PodPending
	for _, m := range mods {
		m(p)
	}
	return p
}

func waiting(reason, message string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "run",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}}}}
	}
}

func unschedulable(p *corev1.Pod) {
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
		Reason: corev1.PodReasonUnschedulable, Message: "0/1 nodes are available: 1 Insufficient memory."}}
}

func finished(phase corev1.PodPhase, code int32) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.Phase = phase
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "run",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}}}}
	}
}

func TestPodStuck(t *testing.T) {
	for name, tc := range map[string]struct {
		pod        *corev1.Pod
		wantReason string
		wantIn     string
	}{
		"a pod pending for its image pull is not stuck yet": {pod: pod(waiting("ContainerCreating", ""))},
		"a running pod is not stuck":                        {pod: pod(func(p *corev1.Pod) { p.Status.Phase = corev1.PodRunning })},
		"a pod waiting to be scheduled, no reason, is not": {pod: pod(func(p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse}}
		})},
		"an image that cannot be pulled is stuck":            {pod: pod(waiting("ErrImagePull", `pull access denied for ghcr.io/vanlink/vanlink`)), wantReason: "ErrImagePull", wantIn: "container run cannot start: ErrImagePull: pull access denied"},
		"an image pull backing off is stuck":                 {pod: pod(waiting("ImagePullBackOff", `Back-off pulling image "ghcr.io/vanlink/vanlink:e2e-kind"`)), wantReason: "ImagePullBackOff", wantIn: `Back-off pulling image`},
		"a missing Secret or ConfigMap is stuck":             {pod: pod(waiting("CreateContainerConfigError", `secret "x" not found`)), wantReason: "CreateContainerConfigError", wantIn: `secret "x" not found`},
		"an unschedulable pod is stuck with the scheduler's": {pod: pod(unschedulable), wantReason: "Unschedulable", wantIn: "pod service-interconnect/vanlink-x cannot be scheduled: Unschedulable: 0/1 nodes are available"},
		"an init container that cannot pull is stuck": {pod: pod(func(p *corev1.Pod) {
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "init", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}}}
		}), wantReason: "ImagePullBackOff", wantIn: "container init cannot start"},
	} {
		t.Run(name, func(t *testing.T) {
			err := PodStuck(tc.pod)
			if tc.wantReason == "" {
				require.NoError(t, err, "the pod may still run")
				return
			}
			var stuck *PodStuckError
			require.ErrorAs(t, err, &stuck)
			require.Equal(t, tc.wantReason, stuck.Reason)
			require.Contains(t, err.Error(), tc.wantIn)
		})
	}
}

func TestWaitDone(t *testing.T) {
	for name, tc := range map[string]struct {
		pod      *corev1.Pod
		wantCode int
		wantErr  string
		stuck    bool
	}{
		"a succeeded pod is done":                       {pod: pod(finished(corev1.PodSucceeded, 0)), wantCode: 0},
		"a failed pod is done, with its exit code":      {pod: pod(finished(corev1.PodFailed, 2)), wantCode: 2},
		"ImagePullBackOff fails the wait at once":       {pod: pod(waiting("ImagePullBackOff", "Back-off pulling image")), stuck: true, wantErr: "ImagePullBackOff: Back-off pulling image"},
		"ErrImagePull fails the wait at once":           {pod: pod(waiting("ErrImagePull", "not found")), stuck: true, wantErr: "ErrImagePull"},
		"CreateContainerConfigError fails it at once":   {pod: pod(waiting("CreateContainerConfigError", "no SA")), stuck: true, wantErr: "CreateContainerConfigError: no SA"},
		"Unschedulable fails it at once":                {pod: pod(unschedulable), stuck: true, wantErr: "Unschedulable: 0/1 nodes"},
		"a pod that never finishes hits the timeout":    {pod: pod(waiting("ContainerCreating", "")), wantErr: "did not finish (phase Pending)"},
		"a pod deleted under the wait fails it at once": {wantErr: "not found"},
	} {
		t.Run(name, func(t *testing.T) {
			var objs []runtime.Object
			if tc.pod != nil {
				objs = append(objs, tc.pod)
			}
			r := PodRunner{Client: fake.NewClientset(objs...), Interval: 10 * time.Millisecond, Timeout: 300 * time.Millisecond}
			start := time.Now()
			got, err := r.waitDone(context.Background(), "service-interconnect", "vanlink-x")
			took := time.Since(start)
			if tc.wantErr == "" {
				require.NoError(t, err)
				require.Equal(t, tc.wantCode, exitCode(got))
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
			var stuck *PodStuckError
			require.Equal(t, tc.stuck, errors.As(err, &stuck), "a *PodStuckError only for a stuck pod: %v", err)
			if tc.stuck {
				require.Less(t, took, 200*time.Millisecond, "a stuck pod fails the wait at once, not at the timeout")
			}
		})
	}
}

// kubelet makes the fake clientset behave like the API server and a
// kubelet for a created command pod: a name from generateName, and the pod
// run to completion with exitCode.
func kubelet(kc *fake.Clientset, exitCode int32) {
	kc.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		p.Name = p.GenerateName + "abcde"
		p.UID = "0b8a"
		p.Spec.NodeName = "vanlink-e2e-hub-control-plane"
		phase := corev1.PodSucceeded
		if exitCode != 0 {
			phase = corev1.PodFailed
		}
		finished(phase, exitCode)(p)
		return false, nil, nil
	})
}

func TestPodRunnerStart(t *testing.T) {
	for name, tc := range map[string]struct {
		streams func(context.Context, *corev1.Pod) (string, string, error)
		want    Result
	}{
		"without streams, Stdout holds the API's merged log": {
			want: Result{Pod: "vanlink-abcde", ExitCode: 1, Log: "fake logs", Stdout: "fake logs"},
		},
		"with streams, stdout and stderr come apart": {
			streams: func(_ context.Context, p *corev1.Pod) (string, string, error) {
				require.Equal(t, "/var/log/pods/service-interconnect_vanlink-abcde_0b8a/run/0.log", ContainerLogPath(p, p.Spec.Containers[0].Name))
				return "east pushed\n", "level=INFO msg=pass\n", nil
			},
			want: Result{Pod: "vanlink-abcde", ExitCode: 1, Log: "fake logs", Stdout: "east pushed\n", Stderr: "level=INFO msg=pass\n", Split: true},
		},
		"when the streams cannot be read, the merged log is used": {
			streams: func(context.Context, *corev1.Pod) (string, string, error) { return "", "", errors.New("no node") },
			want:    Result{Pod: "vanlink-abcde", ExitCode: 1, Log: "fake logs", Stdout: "fake logs"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			kc := fake.NewClientset()
			kubelet(kc, 1)
			r := PodRunner{Client: kc, Interval: 10 * time.Millisecond, Timeout: time.Second, Streams: tc.streams}
			wait, err := r.Start(context.Background(), pod(func(p *corev1.Pod) { p.Name = "" }))
			require.NoError(t, err)
			got, err := wait()
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			_, err = kc.CoreV1().Pods("service-interconnect").Get(context.Background(), "vanlink-abcde", metav1.GetOptions{})
			require.True(t, apierrors.IsNotFound(err), "the pod is deleted after the wait: %v", err)
		})
	}
}

func TestSplitCRILog(t *testing.T) {
	for name, tc := range map[string]struct {
		log                    string
		wantStdout, wantStderr string
		wantErr                string
	}{
		"full lines go to their stream": {
			log:        "2026-11-30T13:00:00.1Z stdout F CLUSTER STATE\n2026-11-30T13:00:00.2Z stderr F {\"level\":\"INFO\"}\n2026-11-30T13:00:00.3Z stdout F east pushed\n",
			wantStdout: "CLUSTER STATE\neast pushed\n", wantStderr: "{\"level\":\"INFO\"}\n",
		},
		"a partial line is continued by the next": {
			log:        "t stdout P a long \nt stdout F line\n",
			wantStdout: "a long line\n",
		},
		"an empty line keeps its newline": {
			log:        "t stdout F \nt stdout F x\n",
			wantStdout: "\nx\n",
		},
		"text with blanks is kept whole": {
			log:        "t stderr F error: grant spoke-link: status.url is not https\n",
			wantStderr: "error: grant spoke-link: status.url is not https\n",
		},
		"an empty log is empty": {},
		"a line that is not CRI fails": {
			log: "hello\n", wantErr: "not in the CRI log format",
		},
		"an unknown stream fails": {
			log: "t stdin F x\n", wantErr: `stream "stdin"`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			stdout, stderr, err := SplitCRILog(tc.log)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantStdout, stdout)
			require.Equal(t, tc.wantStderr, stderr)
		})
	}
}
