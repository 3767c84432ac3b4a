"""The Gravatar/Libravatar-compatible surface: an avatar URL's parameters -> an image
request (`read`), the keyed id an avatar is drawn from (`keyed_id`), and what `d=`
names (`defaults`). Its route (`route.AVATAR`) is answered by the one image function."""
