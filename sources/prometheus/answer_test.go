package prometheus

import (
	"errors"
	"strings"
	"testing"
)

func TestValue(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		want      float64
		wantNoVal bool   // errNoValue: 0 with ignoreNullValues, an error without
		wantErr   string // another error
	}{
		{name: "one sample", body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"b"},"value":[1700000000.5,"12.5"]}]}}`, want: 12.5},
		{name: "scalar", body: `{"status":"success","data":{"resultType":"scalar","result":[1700000000,"3"]}}`, want: 3},
		{name: "empty vector", body: `{"status":"success","data":{"resultType":"vector","result":[]}}`, wantNoVal: true},
		{name: "empty sample", body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[]}]}}`, wantNoVal: true},
		{name: "null value", body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,null]}]}}`, wantNoVal: true},
		{name: "NaN", body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}}`, wantNoVal: true},
		{name: "+Inf", body: `{"status":"success","data":{"resultType":"scalar","result":[1,"+Inf"]}}`, wantNoVal: true},
		{name: "two series", body: `{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"1"]},{"value":[1,"2"]}]}}`, wantErr: "the query returned 2 series"},
		{name: "range vector", body: `{"status":"success","data":{"resultType":"matrix","result":[]}}`, wantErr: "the query returned a matrix"},
		{name: "error answer", body: `{"status":"error","errorType":"bad_data","error":"parse error at char 4"}`, wantErr: "query failed: bad_data: parse error at char 4"},
		{name: "not JSON", body: `<html>`, wantErr: "not a query API answer"},
		{name: "value not a string", body: `{"status":"success","data":{"resultType":"vector","result":[{"value":[1,5]}]}}`, wantErr: "a sample's value is a string"},
		{name: "value not a number", body: `{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"many"]}]}}`, wantErr: `value "many" is not a number`},
		{name: "sample of three", body: `{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"1","2"]}]}}`, wantErr: "a sample is [time, value]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := value([]byte(tc.body))
			switch {
			case tc.wantNoVal:
				if !errors.Is(err, errNoValue) {
					t.Fatalf("value = %g, %v; want errNoValue", got, err)
				}
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || errors.Is(err, errNoValue) {
					t.Fatalf("value = %g, %v; want an error containing %q", got, err, tc.wantErr)
				}
			case err != nil || got != tc.want:
				t.Fatalf("value = %g, %v; want %g", got, err, tc.want)
			}
		})
	}
}
