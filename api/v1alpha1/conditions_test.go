package v1alpha1_test

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pushscale/pushscale/api/v1alpha1"
)

func TestInitConditions(t *testing.T) {
	want := v1alpha1.Conditions{
		{Type: "Ready", Status: "Unknown"},
		{Type: "Active", Status: "Unknown"},
		{Type: "Fallback", Status: "Unknown"},
		{Type: "Paused", Status: "False"},
	}
	got := v1alpha1.InitConditions()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("InitConditions() = %v, want %v", got, want)
	}
	got[0].Status = metav1.ConditionTrue
	if v1alpha1.InitConditions()[0].Status != metav1.ConditionUnknown {
		t.Error("InitConditions returns shared state")
	}
}

func TestSetCondition(t *testing.T) {
	ready := v1alpha1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonScaledObjectReady, Message: "ok"}
	tests := []struct {
		name        string
		start       v1alpha1.Conditions
		set         v1alpha1.Condition
		wantChanged bool
		want        v1alpha1.Conditions
	}{
		{
			name:        "appends to nil",
			set:         ready,
			wantChanged: true,
			want:        v1alpha1.Conditions{ready},
		},
		{
			name:        "updates in place, keeping order",
			start:       v1alpha1.InitConditions(),
			set:         ready,
			wantChanged: true,
			want: v1alpha1.Conditions{
				ready,
				{Type: "Active", Status: "Unknown"},
				{Type: "Fallback", Status: "Unknown"},
				{Type: "Paused", Status: "False"},
			},
		},
		{
			name:        "identical condition is no change",
			start:       v1alpha1.Conditions{ready},
			set:         ready,
			wantChanged: false,
			want:        v1alpha1.Conditions{ready},
		},
		{
			name:        "message alone is a change",
			start:       v1alpha1.Conditions{ready},
			set:         v1alpha1.Condition{Type: ready.Type, Status: ready.Status, Reason: ready.Reason, Message: "still ok"},
			wantChanged: true,
			want:        v1alpha1.Conditions{{Type: ready.Type, Status: ready.Status, Reason: ready.Reason, Message: "still ok"}},
		},
		{
			name:        "new type appended after the others",
			start:       v1alpha1.InitConditions(),
			set:         v1alpha1.Condition{Type: v1alpha1.ConditionPushHealthy, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonNotificationsDisabled},
			wantChanged: true,
			want: append(v1alpha1.InitConditions(),
				v1alpha1.Condition{Type: "PushHealthy", Status: "False", Reason: "NotificationsDisabled"}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.start
			changed := c.SetCondition(tt.set.Type, tt.set.Status, tt.set.Reason, tt.set.Message)
			expect(t, "changed", changed, tt.wantChanged)
			if !reflect.DeepEqual(c, tt.want) {
				t.Errorf("conditions = %v, want %v", c, tt.want)
			}
		})
	}
}

func TestGetCondition(t *testing.T) {
	c := v1alpha1.InitConditions()
	c.SetCondition(v1alpha1.ConditionActive, metav1.ConditionTrue, v1alpha1.ReasonScalerActive, "")
	tests := []struct {
		name       string
		typ        v1alpha1.ConditionType
		wantFound  bool
		wantStatus metav1.ConditionStatus
		wantTrue   bool
	}{
		{"present and true", v1alpha1.ConditionActive, true, metav1.ConditionTrue, true},
		{"present and unknown", v1alpha1.ConditionReady, true, metav1.ConditionUnknown, false},
		{"present and false", v1alpha1.ConditionPaused, true, metav1.ConditionFalse, false},
		{"absent", v1alpha1.ConditionPushHealthy, false, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found := c.GetCondition(tt.typ)
			expect(t, "found", found, tt.wantFound)
			expect(t, "status", got.Status, tt.wantStatus)
			expect(t, "IsTrue", c.IsTrue(tt.typ), tt.wantTrue)
		})
	}
}
