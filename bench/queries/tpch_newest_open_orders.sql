-- sources: tpch
-- The newest 50 orders in a status whose customer's name matches a search (ILIKE pattern):
-- an operator's list screen, the search of the read-path benchmark (bench/join_paths.py).
SELECT o.o_orderkey, o.o_orderdate, o.o_totalprice, c.c_name
FROM tpch.orders AS o
JOIN tpch.customer AS c ON c.c_custkey = o.o_custkey
WHERE o.o_orderstatus = $status
  AND c.c_name ILIKE $name_pattern
ORDER BY o.o_orderdate DESC, o.o_orderkey DESC
LIMIT 50
