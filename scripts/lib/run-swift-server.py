"""Run a Swift server script with swift.conf taken from a chosen directory.

Usage: run-swift-server.py SWIFT_DIR [--access-log FILE] SERVER_SCRIPT ARGS...

Swift 2.30 reads swift.conf (hash prefix and suffix, storage policies and the
[swift-constraints] such as container_listing_limit) from the fixed path
/etc/swift/swift.conf. This wrapper points it at SWIFT_DIR/swift.conf before
any server module is imported, so each local cluster can set its own
constraints without editing /etc/swift.

--access-log adds a file handler to the proxy-logging logger ("proxy-access"
route), so the access log lands in its own file, one line per request.
"""

import logging
import runpy
import sys

from swift.common import constraints, storage_policy, utils


def main():
    args = sys.argv[1:]
    swift_dir = args.pop(0)
    access_log = None
    if args[0] == '--access-log':
        args.pop(0)
        access_log = args.pop(0)
    server_script = args[0]

    # NOTE: relies on Swift internals (utils.set_swift_dir and the
    # module-level constraint globals). Modules that copy a constraint with
    # "from swift.common.constraints import X" read it when first imported,
    # which happens after this point, when the server loads its pipeline.
    utils.set_swift_dir(swift_dir)
    constraints.reload_constraints()
    storage_policy.reload_storage_policies()

    if access_log:
        handler = logging.FileHandler(access_log)
        handler.setFormatter(logging.Formatter('%(message)s'))
        logging.getLogger('proxy-access').addHandler(handler)

    sys.argv = args
    runpy.run_path(server_script, run_name='__main__')


if __name__ == '__main__':
    main()
