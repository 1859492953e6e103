/**
 * MySQL/MariaDB built-in functions by what they can do. Functions not in the harmless list (stored functions,
 * UDFs such as sys_exec, anything unknown) need `sql:function` on `Function::"<name>"`; dangerous ones need
 * `sql:admin_function`. Names are lower-cased.
 */
export const DANGEROUS_FUNCTIONS = new Set([
  "load_file",
  "sleep",
  "benchmark",
  "get_lock",
  "release_lock",
  "release_all_locks",
  "master_pos_wait",
  "source_pos_wait",
  "master_gtid_wait",
  "sys_exec",
  "sys_eval",
  "sys_get",
  "sys_set",
  "lib_mysqludf_sys_info",
  "nextval",
  "setval",
  "lastval",
]);

export const HARMLESS_FUNCTIONS = new Set(
  `abs acos adddate addtime aes_decrypt aes_encrypt any_value ascii asin atan atan2 avg bin bit_and bit_count
bit_length bit_or bit_xor cast ceil ceiling char char_length character_length charset coalesce coercibility
collation compress concat concat_ws connection_id conv convert convert_tz cos cot count crc32 curdate
current_date current_role current_time current_timestamp current_user curtime database date date_add
date_format date_sub datediff day dayname dayofmonth dayofweek dayofyear decode default degrees des_decrypt
des_encrypt elt encode exp export_set extract field find_in_set floor format found_rows from_base64
from_days from_unixtime greatest group_concat hex hour if ifnull inet_aton inet_ntoa inet6_aton inet6_ntoa
insert instr interval is_ipv4 is_ipv6 isnull json_array json_arrayagg json_contains json_contains_path
json_depth json_extract json_insert json_keys json_length json_merge json_merge_patch json_merge_preserve
json_object json_objectagg json_quote json_remove json_replace json_search json_set json_type json_unquote
json_valid json_value last_day last_insert_id name_const uuid_short lcase least left length ln localtime localtimestamp locate log log10 log2
lower lpad ltrim make_set makedate maketime max md5 microsecond mid min minute mod month monthname now
nullif oct octet_length ord period_add period_diff pi position pow power quarter quote radians rand
regexp_instr regexp_like regexp_replace regexp_substr repeat replace reverse right round row_count rpad
rtrim schema sec_to_time second session_user sha sha1 sha2 sign sin soundex space sqrt std stddev
stddev_pop stddev_samp str_to_date strcmp subdate substr substring substring_index subtime sum sysdate
system_user tan time time_format time_to_sec timediff timestamp timestampadd timestampdiff to_base64
to_days to_seconds trim truncate ucase uncompress uncompressed_length unhex unix_timestamp upper user
utc_date utc_time utc_timestamp uuid values var_pop var_samp variance version week weekday weekofyear
year yearweek row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value
nth_value`.split(/\s+/),
);
