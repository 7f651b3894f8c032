# Sourced by the trace benchmarks: the development traces, one path a line.
# ../shared/data by default; VIGIL_TRACES=DIR for others (vigil's published figures are
# measured on traces that are not in ../shared/data).
list_traces() {
  find "${VIGIL_TRACES:-../shared/data}" -name '*.csv' \
    \( -path '*realAWSCloudwatch*' -o -path '*nasa_http*' -o -path '*bitbrains*' -o -path '*alibaba2018*' \) | sort
}
