echo \n(gdb) memmap\n
memmap
echo \n(gdb) memmap --kind thread-stack,guard,arena\n
memmap --kind thread-stack,guard,arena
echo \n(gdb) vmainfo $rsp\n
vmainfo $rsp
echo \n(gdb) vmainfo heap_block\n
vmainfo heap_block
echo \n(gdb) vmainfo 0x10\n
vmainfo 0x10
echo \n(gdb) memmap .so --group\n
memmap .so --group
echo \n(gdb) memmap -x --top 5 --sort rss\n
memmap -x --top 5 --sort rss
kill
