"""How ``make test`` shares the suite out over its pytest-xdist workers (conftest.py): the
tests that start processes form one group, run one at a time; the browser tests last."""


def test_a_test_that_starts_processes_joins_the_processes_group(request, redis_binary):
    assert request.node.get_closest_marker("xdist_group").args == ("processes",)
    if getattr(request.config.option, "loadgroup", False):  # a worker of --dist loadgroup: xdist saw the group
        assert request.node._nodeid.endswith("@processes"), request.node._nodeid


def test_an_in_process_test_is_shared_out(request):
    assert request.node.get_closest_marker("xdist_group") is None


def test_the_browser_tests_come_after_every_other_test(request):
    browser = [item.get_closest_marker("browser") is not None for item in request.session.items]
    assert browser == sorted(browser)
