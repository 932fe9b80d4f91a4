#include <nanobind/nanobind.h>
namespace nb = nanobind;

void bind_network(nb::module_ &m) {
    (void)m;
}
