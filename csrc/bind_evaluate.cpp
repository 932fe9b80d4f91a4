#include <nanobind/nanobind.h>
namespace nb = nanobind;

void bind_evaluate(nb::module_ &m) {
    (void)m;
}
