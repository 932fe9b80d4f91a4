#include <nanobind/nanobind.h>
namespace nb = nanobind;

void bind_descriptors(nb::module_ &m) {
    (void)m;
}
